"""Which reminders the pathway's events put in the outbox (plain values in; the domains call these).

Times are Oslo wall-clock where a person would count days ("1 day before" stays at the same clock time
across a daylight-saving change); "2 hours before" is absolute. Recipients are accounts: today the
patient's own; the relatives issue adds relatives with the "reminders" scope in `recipients`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import delegations
from server.access.models import Account
from server.access.policy import SCOPE_REMINDERS
from server.db import utcnow
from server.i18n import N_, OSLO
from server.notify import outbox

MEETING_KINDS = ("meeting_7d", "meeting_1d", "meeting_2h")
MSG_MEETING = N_("Reminder: collaboration meeting %(number)s is %(when)s.")
MSG_MEETING_DIGITAL = N_("Reminder: collaboration meeting %(number)s is %(when)s, on video. "
                         "Test your camera and microphone first.")
MSG_WISHES = N_("Tell the clinic who should come to collaboration meeting 1, and where you want it.")
MSG_MEASURE_SOON = N_("A measure in your action plan is due in 3 days.")
MSG_MEASURE_OVERDUE = N_("A measure in your action plan is past its date. Update its status when you can.")
MEASURE_HOUR = time(9, 0)  # measure reminders come in the morning, Oslo time
WISHES_AGAIN = timedelta(days=3)


async def recipients(db: AsyncSession, patient_id: int) -> list[int]:
    """The accounts that get this patient's reminders: the patient's own, and relatives whose live delegation
    has the "reminders" scope (on their own devices; only the patient's own copy is filed in the inbox)."""
    own = list((await db.scalars(select(Account.id).where(Account.patient_id == patient_id,
                                                         Account.active.is_(True)))).all())
    relatives = await delegations.relatives_with_scope(db, patient_id, SCOPE_REMINDERS)
    return own + [account_id for account_id in relatives if account_id not in own]


def meeting_due_times(starts_at: datetime) -> dict[str, datetime]:
    local = starts_at.astimezone(OSLO)
    return {"meeting_7d": (local - timedelta(days=7)).astimezone(starts_at.tzinfo),
            "meeting_1d": (local - timedelta(days=1)).astimezone(starts_at.tzinfo),
            "meeting_2h": starts_at - timedelta(hours=2)}


async def _each(db: AsyncSession, patient_id: int, **values) -> None:
    for account_id in await recipients(db, patient_id):
        await outbox.enqueue(db, recipient_id=account_id, patient_id=patient_id, **values)


async def meeting_planned(db: AsyncSession, *, patient_id: int, meeting_id: int, number: int, starts_at: datetime,
                          digital: bool, now: datetime | None = None) -> None:
    """The 7-day, 1-day and 2-hour reminders (those still ahead). Replaces the meeting's pending ones."""
    now = now or utcnow()
    subject = f"meeting:{meeting_id}"
    await outbox.remove_pending(db, subject, MEETING_KINDS)
    message, link = (MSG_MEETING_DIGITAL, "/meeting/check") if digital else (MSG_MEETING, "/meeting")
    for kind, due in meeting_due_times(starts_at).items():
        if due > now:
            await _each(db, patient_id, kind=kind, subject=subject, due_at=due, message=message, link=link,
                        number=str(number), when=starts_at.isoformat())


async def meeting_changed(db: AsyncSession, *, patient_id: int, meeting_id: int, notification_id: int | None,
                          message: str, cancelled: bool, **params: str) -> None:
    """Rescheduled or cancelled: urgent (quiet hours do not hold it back). The inbox already has the message."""
    subject = f"meeting:{meeting_id}"
    if cancelled:
        await outbox.remove_pending(db, subject, MEETING_KINDS)
    now = utcnow()
    await _each(db, patient_id, kind="meeting_cancelled" if cancelled else "meeting_changed", subject=subject,
                due_at=now, message=message, link="/meeting", urgent=True, notification_id=notification_id,
                **params)


async def wishes_needed(db: AsyncSession, *, patient_id: int, now: datetime | None = None) -> None:
    """Stage 4 started: ask now, and again after 3 days unless the wishes are sent by then."""
    now = now or utcnow()
    for kind, due in (("wishes", now), ("wishes_again", now + WISHES_AGAIN)):
        await _each(db, patient_id, kind=kind, subject=f"wishes:{patient_id}:1", due_at=due, message=MSG_WISHES,
                    link="/meeting/wishes")


async def wishes_sent(db: AsyncSession, *, patient_id: int, number: int) -> None:
    await outbox.remove_pending(db, f"wishes:{patient_id}:{number}")


async def plan_published(db: AsyncSession, *, patient_id: int, plan_id: int, number: int,
                         notification_id: int | None, message: str, due_dates: dict[str, date],
                         now: datetime | None = None) -> None:
    """Push the "plan published/changed" message (already in the inbox) and plan each measure's reminders."""
    now = now or utcnow()
    await _each(db, patient_id, kind="plan_published", subject=f"plan:{plan_id}:{number}", due_at=now,
                message=message, link="/plan", notification_id=notification_id, number=str(number))
    for uid, due in due_dates.items():
        subject = f"measure:{plan_id}:{uid}"
        await outbox.remove_pending(db, subject)
        for kind, day, text in (("measure_soon", due - timedelta(days=3), MSG_MEASURE_SOON),
                                ("measure_overdue", due + timedelta(days=1), MSG_MEASURE_OVERDUE)):
            at = datetime.combine(day, MEASURE_HOUR, tzinfo=OSLO).astimezone(now.tzinfo)
            if at > now:
                await _each(db, patient_id, kind=kind, subject=subject, due_at=at, message=text, link="/plan")


MEASURE_KINDS = ("measure_soon", "measure_overdue")
SETTLED = ("done", "ended")  # a measure marked done or stopped needs no more reminding


async def measure_status_changed(db: AsyncSession, *, plan_id: int, uid: str, status: str | None) -> None:
    """The patient (or a relative acting for them) set a measure's status: once it is done or stopped, its
    pending "due in 3 days" and "overdue" reminders are withdrawn. (Set back to open, the next published
    version of the plan plans them again.)"""
    if status in SETTLED:
        await outbox.remove_pending(db, f"measure:{plan_id}:{uid}", MEASURE_KINDS)


async def left_pathway(db: AsyncSession, *, patient_id: int) -> None:
    await outbox.remove_for_patient(db, patient_id)
