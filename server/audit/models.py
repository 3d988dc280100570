"""Append-only, hash-chained audit events.

A request inserts its events UNSEALED (content and an autoincrement id; seq, prev_hash and hash NULL)
and takes no chain lock. The sealer (server/audit/service.py `seal`) later gives them their chain
position (seq) and hashes, in id order, under the chain lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # The patient's access log reads one patient's events newest first (keyset on id).
        Index("ix_audit_events_patient_event", "patient_id", "id"),
        # Its filter lists the people who read them (patient, actor).
        Index("ix_audit_events_patient_actor", "patient_id", "actor_account_id"),
        # The sealer finds the unsealed events (a handful at any time) without scanning the table.
        Index("ix_audit_events_unsealed", "id", sqlite_where=text("seq IS NULL"),
              postgresql_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The chain position, given by the sealer; unique: two sealers can never give the same position.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    # The patient a relative acted for (None when the actor acted on their own behalf).
    on_behalf_of: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(64), default="")
    # Identifiers only (e.g. "stage 4->5", "credential 12"); never health details.
    detail: Mapped[str] = mapped_column(String(200), default="")
    # One event for a list of patients (worklist, patient list): how many; who they are is in
    # audit_event_patients, and their ids are part of the event's hash.
    patient_count: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    @property
    def sealed(self) -> bool:
        return self.seq is not None


class AuditEventPatient(Base):
    """The patients one list event named: the patient's access log ("who saw me") reads it by patient.
    The event's actor is repeated here so that the log's person filter and list need not visit the events
    (`verify` checks it is the event's own)."""

    __tablename__ = "audit_event_patients"
    __table_args__ = (Index("ix_audit_event_patients_patient_actor", "patient_id", "actor_account_id"),
                      # The sealer and verification read an event's patients.
                      Index("ix_audit_event_patients_event", "event_id"))

    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_account_id: Mapped[int | None] = mapped_column(Integer)
