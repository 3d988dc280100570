"""Factories for meetings, wishes and action plans written straight to the database.

Each commits before it starts (ends a read snapshot, see conftest's `db`) and after it is done.
Defaults are the common case; pass what the test is about.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server.db import utcnow
from server.meetings.models import AgendaSegment, Meeting, MeetingParticipant, MeetingWishes
from server.plan.models import ActionPlan, PlanVersion


def participant(kind: str = "gp", name: str = "Berit Bø", **fields) -> MeetingParticipant:
    """A participant to pass to `meeting(...)`; `invitation=Invitation(...)` may be given too."""
    invitation = fields.pop("invitation", None)
    row = MeetingParticipant(kind=kind, name=name, **fields)
    if invitation is not None:
        row.invitation = invitation
    return row


async def meeting(db, patient_id: int, *, starts_at: datetime | None = None, number: int = 1,
                  participants: list[MeetingParticipant] | None = None,
                  segments: list[tuple[str, list[int]]] | None = None, **fields) -> Meeting:
    """A scheduled meeting (digital, 60 minutes, 20 days ahead unless told). `segments`: (title, indexes of
    `participants`) pairs, stored with the participants' ids."""
    await db.commit()
    values = {"duration_minutes": 60, "format": "digital", "video_link": "https://video.example/m",
              "changes": []} | fields
    row = Meeting(patient_id=patient_id, number=number, starts_at=starts_at or utcnow() + timedelta(days=20),
                  segments=[], **values)
    row.participants = list(participants or [])
    for position, item in enumerate(row.participants):
        if item.position is None:
            item.position = position
    db.add(row)
    await db.flush()
    row.segments.extend(AgendaSegment(position=position, title=title,
                                      participant_ids=[row.participants[i].id for i in indexes])
                        for position, (title, indexes) in enumerate(segments or []))
    await db.commit()
    return row


async def wishes(db, patient_id: int, answers: dict | None = None, *, number: int = 1, submitted: bool = True,
                 **fields) -> MeetingWishes:
    """The patient's wishes for SHM `number`: sent (the same answers as the draft) unless `submitted=False`."""
    await db.commit()
    answers = {} if answers is None else answers
    values = {"status": "submitted", "submitted_at": utcnow(), "submitted_answers": answers} if submitted \
        else {"status": "draft"}
    row = MeetingWishes(patient_id=patient_id, meeting_number=number, answers=answers, **(values | fields))
    db.add(row)
    await db.commit()
    return row


async def plan(db, patient_id: int, *contents: dict, draft: dict | None = None,
               labels: tuple[str, ...] = ("shm1", "update", "shm2"), notes: tuple[str, ...] = (),
               last_published: timedelta = timedelta(days=10)) -> ActionPlan:
    """An action plan with `contents` published as versions 1, 2, ... one week apart, the last one
    `last_published` ago; the draft is `draft` (else empty)."""
    await db.commit()
    row = ActionPlan(patient_id=patient_id, draft={} if draft is None else draft)
    db.add(row)
    await db.flush()
    start = utcnow() - last_published - timedelta(days=7 * (len(contents) - 1))
    for i, content in enumerate(contents):
        db.add(PlanVersion(plan_id=row.id, number=i + 1, label=labels[i], published_at=start + timedelta(days=7 * i),
                           change_note=notes[i] if i < len(notes) else "", content=content))
    await db.commit()
    return row
