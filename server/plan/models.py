"""The action plan (tiltaksplan): a clinicians' draft, immutable published versions, and the
patient's (and others') progress updates on measures between versions.

Document shape shared by `ActionPlan.draft` and `PlanVersion.content` (see plan/README in the module docstring):
{
  "goals":    [{"uid": "g-…", "text": str}],
  "measures": [{"uid": "m-…",            # stable across versions: the key for comparing versions
                "title": str, "description": str,
                "responsible": "patient" | "gp" | "clinic" | "nav" | "participant",
                "participant": str,       # name of a meeting participant when responsible == "participant"
                "goal": str,              # a goal uid or ""
                "start": "YYYY-MM-DD" | "", "due": "YYYY-MM-DD" | "", "timeframe": str,   # e.g. "innen 3 måneder"
                "status": "planned" | "in_progress" | "done" | "paused" | "ended",
                "evaluation": {"outcome": "kept" | "changed" | "finished" | "dropped", "comment": str} | None}]
}
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, utcnow

RESPONSIBLE = ("patient", "gp", "clinic", "nav", "participant")
STATUSES = ("planned", "in_progress", "done", "paused", "ended")
OUTCOMES = ("kept", "changed", "finished", "dropped")
VERSION_LABELS = ("shm1", "update", "shm2")


class ActionPlan(Base):
    __tablename__ = "action_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), unique=True)
    draft: Mapped[dict] = mapped_column(JSON, default=dict)
    # Optimistic locking of the draft: a form read at N cannot overwrite N+1.
    draft_version: Mapped[int] = mapped_column(Integer, default=1)
    draft_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    draft_updated_by: Mapped[int | None] = mapped_column(Integer)

    versions: Mapped[list["PlanVersion"]] = relationship(back_populates="plan", order_by="PlanVersion.number",
                                                         cascade="all, delete-orphan")


class PlanVersion(Base):
    """A published plan. Never changed after publishing."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(16))  # shm1 | update | shm2
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[int | None] = mapped_column(Integer)
    change_note: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[dict] = mapped_column(JSON, default=dict)

    plan: Mapped[ActionPlan] = relationship(back_populates="versions")


class MeasureUpdate(Base):
    """A status change and/or progress note on a published measure ("Hvordan går det?")."""

    __tablename__ = "measure_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plans.id", ondelete="CASCADE"), index=True)
    measure_uid: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_account_id: Mapped[int | None] = mapped_column(Integer)
    by_role: Mapped[str] = mapped_column(String(32))
    # A relative's update: by_account_id is the relative's account, on_behalf_of the patient they acted for.
    on_behalf_of: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # by the clinic
    read_by: Mapped[int | None] = mapped_column(Integer)
