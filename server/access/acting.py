"""Whom does this request act for? One answer for every route (healthchecks' `_get_project_for_user`).

- a patient acts for themselves: any other patient id (in the path, or of an object such as a
  meeting) is a 404, as if it did not exist;
- a clinician acts for the patient named in the path;
- an admin (and any role `can` does not allow) gets a 404; nobody logged in gets a 401.

A relative acting for a patient plugs in here (and in `policy.can`), nowhere else: their actor will
carry the patient they act for (`Actor.patient_id`) and what they may do for them (`Actor.scopes`),
and `_target` will treat them like the patient. Routes that need the patient row use
`server.pathway.acting.patient_for`, which loads the id decided here.
"""

from __future__ import annotations

from litestar.exceptions import NotAuthorizedException, NotFoundException

from server.access.policy import Actor, can

# The patient is fixed by the account, or for a relative by the delegation they picked (loaded per request
# by the middleware: a revoked or expired delegation is never loaded).
ACTS_FOR_THEMSELVES = frozenset({"patient", "relative"})
ACTS_FOR_PATH_PATIENT = frozenset({"clinician"})  # the patient is named by the path
# Any other role (admin) acts for no patient, whatever else it may do.


def _target(actor: Actor, patient_id: int | None) -> int | None:
    if actor.role in ACTS_FOR_THEMSELVES:
        if patient_id is not None and patient_id != actor.patient_id:
            return None
        return actor.patient_id
    if actor.role in ACTS_FOR_PATH_PATIENT:
        return patient_id
    return None


def acting_for(actor: Actor, action: str, patient_id: int | None = None) -> int:
    """The id of the patient this request acts for, if `actor` may do `action` for them.

    `patient_id`: the patient named by the path or by the object asked for (a meeting's patient);
    None for a patient's own pages. Raises 404 when not allowed, 401 when nobody is logged in.
    """
    if not actor.is_authenticated:
        raise NotAuthorizedException()
    target = _target(actor, patient_id)
    if target is None or not can(actor, action, target):
        raise NotFoundException()
    return target
