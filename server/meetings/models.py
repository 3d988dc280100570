"""Collaboration meetings (SHM): the patient's wishes, the scheduled meeting, participants,
agenda segments, invitations for external participants, and the meeting's history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow

FORMATS = ("digital", "clinic", "gp", "hybrid")
PARTICIPANT_KINDS = ("gp", "nav", "relative", "other")
ANSWERS = ("pending", "accepted", "declined", "proposed")


class MeetingWishes(Base):
    """What the patient wants for SHM `meeting_number`: who, where, practical needs, topics.

    `answers` is the patient's draft or submitted answers (see meetings/wishes.py for its shape);
    `reviewed_answers` is the copy the clinic last marked as read, so changes can be highlighted.
    """

    __tablename__ = "meeting_wishes"
    __table_args__ = (UniqueConstraint("patient_id", "meeting_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    meeting_number: Mapped[int] = mapped_column(Integer, default=1)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | submitted
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_answers: Mapped[dict | None] = mapped_column(JSON)  # what the clinic sees
    submitted_by_relative: Mapped[int | None] = mapped_column(Integer)  # account id of a relative who sent them
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by: Mapped[int | None] = mapped_column(Integer)
    reviewed_answers: Mapped[dict | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1 or 2
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(300), default="")
    video_link: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled | cancelled
    late_reason: Mapped[str] = mapped_column(Text, default="")  # SHM 2 later than 26 weeks after SHM 1
    clinic_note: Mapped[str] = mapped_column(Text, default="")  # to the patient, about the final list
    # Marked by the clinic once the meeting has taken place (this sends the research request).
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    held_by: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    participants: Mapped[list["MeetingParticipant"]] = relationship(
        back_populates="meeting", order_by="MeetingParticipant.position", cascade="all, delete-orphan")
    segments: Mapped[list["AgendaSegment"]] = relationship(
        back_populates="meeting", order_by="AgendaSegment.position", cascade="all, delete-orphan")
    changes: Mapped[list["MeetingChange"]] = relationship(
        back_populates="meeting", order_by="MeetingChange.id", cascade="all, delete-orphan")


class MeetingParticipant(Base):
    """Someone besides the patient and the clinicians: the GP, NAV, a relative, another actor."""

    __tablename__ = "meeting_participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    whole_meeting: Mapped[bool] = mapped_column(Boolean, default=True)
    # For part of the meeting: when their part starts (within the meeting; None: not given).
    part_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[int] = mapped_column(Integer, default=0)

    meeting: Mapped[Meeting] = relationship(back_populates="participants")
    invitation: Mapped["Invitation | None"] = relationship(back_populates="participant", uselist=False,
                                                           cascade="all, delete-orphan")


class AgendaSegment(Base):
    __tablename__ = "agenda_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    participant_ids: Mapped[list] = mapped_column(JSON, default=list)  # MeetingParticipant ids who join

    meeting: Mapped[Meeting] = relationship(back_populates="segments")


class Invitation(Base):
    """A link for one external participant to one meeting: signed, expiring, revocable."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("meeting_participants.id", ondelete="CASCADE"),
                                                unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(String(16), default="pending")
    proposed_time: Mapped[str] = mapped_column(String(200), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the answer was recorded by a clinician (e.g. the GP answered by phone).
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    # The answer given to the old time when the meeting was moved ("" otherwise): `answer` is then
    # "pending" again until the participant answers the new time.
    answer_before_move: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # When and by whom the clinic marked the current answer (a decline, another time, a moved meeting not
    # yet confirmed) as dealt with on the worklist; cleared by a new answer or a new move.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[int | None] = mapped_column(Integer)

    participant: Mapped[MeetingParticipant] = relationship(back_populates="invitation")


class MeetingChange(Base):
    """The meeting's history: scheduled, rescheduled, cancelled."""

    __tablename__ = "meeting_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_account_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    old_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")

    meeting: Mapped[Meeting] = relationship(back_populates="changes")
