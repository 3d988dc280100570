"""The patient a request acts for, loaded: `access.acting.acting_for` decides, this loads the row."""

from __future__ import annotations

from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import Actor
from server.pathway.models import Patient
from server.pathway.service import load_patient


async def patient_for(db: AsyncSession, actor: Actor, action: str, patient_id: int | None = None, *,
                      lock: bool = False) -> Patient:
    """The patient this request acts for (with the stage events), if `actor` may do `action`; else 404
    (401 if nobody is logged in). `lock` holds the row until the transaction ends (PostgreSQL)."""
    patient = await load_patient(db, acting_for(actor, action, patient_id), lock=lock)
    if patient is None:
        raise NotFoundException()
    return patient
