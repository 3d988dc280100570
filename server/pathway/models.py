"""Patients and their movement through the nine stages."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased name for case-insensitive search on both databases.
    name_search: Mapped[str] = mapped_column(String(200), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    gp_name: Mapped[str] = mapped_column(String(200))
    gp_office: Mapped[str] = mapped_column(String(200))
    stage: Mapped[int] = mapped_column(Integer, index=True)
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    referral_received_on: Mapped[date] = mapped_column(Date)
    # Denormalised for the clinic list (sorted by it); recomputed on every stage move.
    next_deadline: Mapped[date | None] = mapped_column(Date, index=True)
    gp_accepted_on: Mapped[date | None] = mapped_column(Date)
    # The clinician who recorded it (an account id; no FK, to keep accounts -> patients acyclic).
    gp_accepted_recorded_by: Mapped[int | None] = mapped_column(Integer)
    # Optimistic locking: a form that was read at version N cannot overwrite version N+1.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    events: Mapped[list["StageEvent"]] = relationship(
        back_populates="patient", order_by="StageEvent.id", cascade="all, delete-orphan"
    )


class StageEvent(Base):
    """One entry into a stage (forward, back or skip), with who did it and why."""

    __tablename__ = "stage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[int | None] = mapped_column(Integer)
    to_stage: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship(back_populates="events")
