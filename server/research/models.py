"""Research interviews: the information text (every version kept) and the append-only history of each
request. Nothing here is ever updated or deleted: every change is a new row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow

# asked: the request was sent (the meeting was held); yes / no: the patient's answer;
# withdrawn: the patient withdrew a yes; held / not_reached: the researcher's outcome.
KINDS = ("asked", "yes", "no", "withdrawn", "held", "not_reached")
CONTACT_METHODS = ("phone", "email", "letter", "clinic")


class ResearchText(Base):
    """One version of the information text, in bokmål and English. A new version is a new row."""

    __tablename__ = "research_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    body_nb: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResearchEvent(Base):
    """One step in a request's history, for one patient and one held meeting."""

    __tablename__ = "research_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    meeting_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text_version: Mapped[int | None] = mapped_column(Integer)  # the version the patient saw (asked, yes, no)
    contact_method: Mapped[str] = mapped_column(String(16), default="")
    contact_when: Mapped[str] = mapped_column(String(200), default="")
    by_account_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
