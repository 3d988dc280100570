"""The patient's in-app inbox, push subscriptions and preferences, and the reminder outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false

from server.db import Base, UTCDateTime, utcnow


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(String(300))  # a msgid with %(name)s params
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(200), default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # For the patient themself only (research requests): never shown to a relative acting for them.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class PushSubscription(Base):
    """One device's Web Push subscription. The recipient is an account (a patient's, later a relative's)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PushPreferences(Base):
    """Quiet hours (Oslo wall clock, "HH:MM") and discreet or detailed text, per account."""

    __tablename__ = "push_preferences"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    quiet_start: Mapped[str] = mapped_column(String(5), default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), default="08:00")
    detailed: Mapped[bool] = mapped_column(Boolean, default=False)


class Reminder(Base):
    """The outbox: one row per reminder to send. (recipient, kind, subject, due) is the idempotency key."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("recipient_id", "kind", "subject", "due_at"),
                      Index("ix_reminders_status_due", "status", "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))  # e.g. "meeting:12", "plan:3", "measure:m-…"
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(String(300))  # a msgid with %(name)s params (detailed text)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    notification_id: Mapped[int | None] = mapped_column(Integer)
