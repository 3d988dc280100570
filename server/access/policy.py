"""The single source of authorisation: route policies and can(actor, action, patient).

Deny by default: a route without a declared policy is refused (and fails the route test).
"""

from __future__ import annotations

from dataclasses import dataclass

# Route-level policies: who may reach a route at all.
PUBLIC = "public"  # anyone, logged in or not
AUTHENTICATED = "authenticated"  # any logged-in account
PATIENT = "patient"
CLINICIAN = "clinician"
ADMIN = "admin"
RESEARCHER = "researcher"
RELATIVE = "relative"  # a relative's own pages (whom they represent); any account may hold delegations
PATIENT_SIDE = "patient_side"  # the patient's pages: the patient, or a relative acting for them (can() decides what)
ROUTE_POLICIES = frozenset({PUBLIC, AUTHENTICATED, PATIENT, CLINICIAN, ADMIN, RESEARCHER, RELATIVE, PATIENT_SIDE})


@dataclass(frozen=True)
class Actor:
    """Who makes the request.

    `patient_id` is the patient this actor acts for on their own behalf: a patient's own record.
    A relative acting for a patient will carry that patient's id here and what they may do for
    them in `scopes` (set when the relative picks whom to act for); `can()` and the resolver
    (`server.access.acting.acting_for`) are the only places that read them.
    """

    account_id: int | None = None
    role: str = "anonymous"
    display_name: str = ""
    patient_id: int | None = None
    session_id: int | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.account_id is not None


ANONYMOUS = Actor()


def policy(name: str) -> dict:
    """`opt` for a route handler: `@get("/x", opt=policy(CLINICIAN))`."""
    if name not in ROUTE_POLICIES:
        raise ValueError(f"unknown policy {name!r}")
    return {"policy": name}


def route_allows(name: str | None, actor: Actor) -> bool:
    if name == PUBLIC:
        return True
    if name not in ROUTE_POLICIES or not actor.is_authenticated:
        return False
    if name == PATIENT_SIDE:
        return actor.role in ("patient", "relative")
    return name == AUTHENTICATED or name == actor.role


# Object-level actions on a patient's data.
VIEW_PATIENT = "patient.view"
LIST_PATIENTS = "patient.list"
CREATE_PATIENT = "patient.create"
MOVE_STAGE = "patient.move_stage"
RECORD_GP_ACCEPTANCE = "patient.record_gp_acceptance"
ISSUE_PATIENT_CODE = "patient.issue_code"
MANAGE_STAFF = "staff.manage"
EDIT_WISHES = "meeting.edit_wishes"  # the patient's own SHM wishes
REVIEW_WISHES = "meeting.review_wishes"
VIEW_MEETING = "meeting.view"
SCHEDULE_MEETING = "meeting.schedule"  # schedule, reschedule, cancel
MANAGE_INVITATIONS = "meeting.manage_invitations"
VIEW_PLAN = "plan.view"
EDIT_PLAN = "plan.edit"  # clinicians: draft, publish, evaluate
UPDATE_OWN_MEASURES = "plan.update_own_measures"  # the patient: status and notes on their own measures
MARK_MEETING_HELD = "meeting.mark_held"  # the clinic; sends the patient the research request
RESEARCH_ANSWER = "research.answer"  # the patient themself: see, answer, withdraw (never a relative)
EDIT_RESEARCH_TEXT = "research.edit_text"  # admins: the information text, never the answers
RESEARCH_PARTICIPANTS = "research.participants"  # researchers: the patients with an active yes
VIEW_INBOX = "inbox.view"  # read the patient's messages, open one, mark them read: the patient, a relative with see
VIEW_PRIVATE_MESSAGES = "inbox.private"  # messages for the patient themself (research requests): never a relative
MANAGE_DELEGATIONS = "delegation.manage"  # give, change and end relatives' access: the patient's own
VIEW_ACCESS_LOG = "access_log.view"  # "Hvem har sett opplysningene mine?": the patient's own
RESEARCH = RESEARCH_ANSWER  # see and answer research requests: the patient's own, never a relative's

# A relative's scopes and what each allows (for the patient they act for, until the delegation ends).
SCOPE_SEE, SCOPE_ACT, SCOPE_REMINDERS = "see", "act", "reminders"
SCOPES = (SCOPE_SEE, SCOPE_ACT, SCOPE_REMINDERS)
_SCOPE_ACTIONS = {
    SCOPE_SEE: {VIEW_PATIENT, VIEW_MEETING, VIEW_PLAN, VIEW_INBOX},
    SCOPE_ACT: {EDIT_WISHES, UPDATE_OWN_MEASURES},
    SCOPE_REMINDERS: set(),  # reminders are pushed to them (see access/delegations.relatives_with_scope)
}
# Never a relative's, whatever the scopes: MANAGE_DELEGATIONS, VIEW_ACCESS_LOG, RESEARCH, VIEW_PRIVATE_MESSAGES (and the
# patient's passkeys and sessions, which belong to the patient's account, not to the relative's).

_CLINICIAN_ACTIONS = {VIEW_PATIENT, LIST_PATIENTS, CREATE_PATIENT, MOVE_STAGE, RECORD_GP_ACCEPTANCE, ISSUE_PATIENT_CODE,
                      REVIEW_WISHES, VIEW_MEETING, SCHEDULE_MEETING, MANAGE_INVITATIONS, VIEW_PLAN, EDIT_PLAN,
                      MARK_MEETING_HELD}
_PATIENT_OWN_ACTIONS = {VIEW_PATIENT, EDIT_WISHES, VIEW_MEETING, VIEW_PLAN, UPDATE_OWN_MEASURES, VIEW_INBOX,
                        VIEW_PRIVATE_MESSAGES, MANAGE_DELEGATIONS, VIEW_ACCESS_LOG}


def can(actor: Actor, action: str, patient_id: int | None = None) -> bool:
    """May `actor` do `action` (on the patient `patient_id`, where it concerns one)?"""
    if not actor.is_authenticated:
        return False
    if actor.role == "clinician":
        return action in _CLINICIAN_ACTIONS
    if actor.role == "admin":
        # Admins manage staff accounts; they do not see health data.
        return action in (MANAGE_STAFF, EDIT_RESEARCH_TEXT)
    if actor.role == "researcher":
        return action == RESEARCH_PARTICIPANTS
    if action == RESEARCH_ANSWER:
        return is_patient_themself(actor) and patient_id is not None and patient_id == actor.patient_id
    if actor.role == "patient":
        return action in _PATIENT_OWN_ACTIONS and patient_id is not None and patient_id == actor.patient_id
    if actor.role == "relative":
        # Acting for one patient (the live delegation the resolver loaded), within its scopes only.
        if patient_id is None or patient_id != actor.patient_id:
            return False
        scopes = actor.scopes | {SCOPE_SEE} if SCOPE_ACT in actor.scopes else actor.scopes  # acting needs seeing
        return any(action in _SCOPE_ACTIONS.get(scope, ()) for scope in scopes)
    return False


def is_patient_themself(actor: Actor) -> bool:
    """The patient on their own behalf: never a relative acting for them, whatever their scopes.

    A relative's actor carries the patient's id and delegated `scopes` (issue 9); research is the
    patient's own, so any actor with scopes (or another role) is refused.
    """
    return actor.is_authenticated and actor.role == "patient" and actor.patient_id is not None and not actor.scopes
