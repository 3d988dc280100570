"""Append-only, hash-chained audit events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The patient's access log reads one patient's events newest first (keyset on seq).
    # Its filter lists the people who read them (patient, actor).
    __table_args__ = (Index("ix_audit_events_patient_seq", "patient_id", "seq"),
                      Index("ix_audit_events_patient_actor", "patient_id", "actor_account_id"))

    # seq is unique: two writers that read the same chain head cannot both append.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # The patient a relative acted for (None when the actor acted on their own behalf).
    on_behalf_of: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(64), default="")
    # Identifiers only (e.g. "stage 4->5", "credential 12"); never health details.
    detail: Mapped[str] = mapped_column(String(200), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
