"""The patient's access log: "Hvem har sett opplysningene mine?" (the patient's own; never a relative's)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.acting import acting_for
from server.access.policy import PATIENT, VIEW_ACCESS_LOG, policy
from server.access.service import account_names
from server.audit.log import PAGE_SIZE, events_by_others, people
from server.audit.service import verify_rows
from server.dates import parse_date_or_none
from server.i18n import N_, OSLO
from server.web import actor, render

ROLE_TEXT = {"clinician": N_("clinician"), "relative": N_("relative"), "admin": N_("administrator"),
             "cli": N_("operator"), "patient": N_("patient")}
ACTION_TEXT = {
    "patient.viewed": N_("Opened your pathway"), "patient.home_viewed": N_("Opened your pathway"),
    "patient.stage_moved": N_("Moved your pathway to a new stage"), "patient.created": N_("Registered you"),
    "patient.code_issued": N_("Made a sign-in code for you"),
    "patient.gp_acceptance_recorded": N_("Recorded the GP's acceptance"),
    "plan.viewed": N_("Opened the action plan"), "plan.history_viewed": N_("Opened the action plan's history"),
    "plan.compared": N_("Compared versions of the action plan"), "plan.printed": N_("Printed the action plan"),
    "plan.published": N_("Published the action plan"), "plan.goals_saved": N_("Changed the action plan"),
    "plan.measure_saved": N_("Changed the action plan"), "plan.evaluation_saved": N_("Evaluated the action plan"),
    "plan.measure_status_changed": N_("Updated a measure"), "plan.measure_note_added": N_("Wrote a note on a measure"),
    "plan.updates_read": N_("Read your updates on the action plan"),
    "meeting.viewed": N_("Opened the meeting"), "meeting.patient_viewed": N_("Opened the meeting"),
    "meeting.scheduled": N_("Scheduled the meeting"), "meeting.rescheduled": N_("Moved the meeting"),
    "meeting.cancelled": N_("Cancelled the meeting"), "meeting.wishes_viewed": N_("Opened the meeting wishes"),
    "meeting.wishes_read": N_("Read the meeting wishes"), "meeting.wishes_reviewed": N_("Read the meeting wishes"),
    "meeting.wishes_saved": N_("Changed the meeting wishes"), "meeting.wishes_submitted": N_("Sent the meeting wishes"),
    "meeting.calendar_downloaded": N_("Downloaded the meeting to a calendar"),
    "invitation.created": N_("Changed who takes part"), "invitation.revoked": N_("Changed who takes part"),
    "invitation.viewed": N_("Opened the meeting invitation"), "invitation.answered": N_("Answered the invitation"),
    "inbox.viewed": N_("Opened your messages"), "auth.login": N_("Logged in"),
    "delegation.accepted": N_("Accepted access as your relative"),
    "patient.list_view": N_("Saw your name in a list of patients"),
}
OTHER = N_("Other activity")


def _day_start(day) -> datetime | None:
    return datetime.combine(day, time(0, 0), tzinfo=OSLO) if day else None


@get("/access/log", opt=policy(PATIENT))
async def access_log(request: Request, db: AsyncSession, before: int | None = None, who: int | None = None,
                     since: str = "", until: str = "") -> Response:
    me = actor(request)
    patient_id = acting_for(me, VIEW_ACCESS_LOG)
    try:
        since_day, until_day = parse_date_or_none(since), parse_date_or_none(until)
    except ValueError:
        since_day = until_day = None
    rows = await events_by_others(db, patient_id, me.account_id, before=before, who=who,
                                  since=_day_start(since_day),
                                  until=_day_start(until_day + timedelta(days=1)) if until_day else None,
                                  limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    person_ids = await people(db, patient_id, me.account_id)
    names = await account_names(db, set(person_ids) | {r.actor_account_id for r in rows})
    chain_ok = await verify_rows(db, rows)
    context = {"rows": rows, "names": names, "people": sorted(person_ids, key=lambda i: names.get(i, "")),
               "who": who, "since": since if since_day else "", "until": until if until_day else "",
               "next_before": rows[-1].id if more and rows else None,
               "pending": any(not row.sealed for row in rows), "role_text": ROLE_TEXT,
               "action_text": ACTION_TEXT, "other": OTHER, "chain_ok": chain_ok}
    return render(request, "access/access_log.html", context)


ROUTES = [access_log]
