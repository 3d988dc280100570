"""The nine stages of the pathway and the national target times (PATHWAY.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays

from server.i18n import N_


@dataclass(frozen=True)
class Stage:
    number: int
    code: str
    name: str  # msgid: the Norwegian official name comes from the nb catalog
    happens: str  # what happens, in plain language for the patient
    goal: str
    next_step: str  # what the patient can expect next


STAGES: tuple[Stage, ...] = (
    Stage(1, "referral", N_("Referral to the pain clinic"),
          N_("You and your GP (or another specialist) agree to refer you to the pain clinic."),
          N_("A good referral that the clinic can assess."),
          N_("The pain clinic receives your referral and assesses it.")),
    Stage(2, "assessment_of_referral", N_("Referral received and assessed"),
          N_("The pain clinic reads your referral and decides whether you have a right to health care here."),
          N_("The right patients enter the pathway."),
          N_("If you have a right to health care, you get a letter inviting you to an assessment.")),
    Stage(3, "invitation", N_("Invitation to assessment and collaboration meeting 1"),
          N_("You get a letter with the time of your assessment and information about the pathway. Your GP is asked to take part in the collaboration meeting."),
          N_("You, your GP and the clinicians are informed and prepared."),
          N_("You come to the pain clinic for the assessment.")),
    Stage(4, "assessment", N_("Assessment"),
          N_("The pain clinic assesses you. You say who should attend the collaboration meeting and where it should take place."),
          N_("A whole picture of your situation, and a meeting planned together with you."),
          N_("When your GP has said yes, you are invited to collaboration meeting 1.")),
    Stage(5, "extended_invitation", N_("Extended invitation to collaboration meeting 1"),
          N_("Your GP has accepted. You are invited to collaboration meeting 1, and NAV or others you chose get information and a request to attend."),
          N_("You, NAV and the others are informed and prepared."),
          N_("Collaboration meeting 1 takes place.")),
    Stage(6, "shm1", N_("Collaboration meeting 1"),
          N_("You meet the clinicians, your GP and possibly NAV or others, at home (video), at the pain clinic or at your GP's office."),
          N_("Joint feedback from the assessment, and an action plan built on your needs."),
          N_("You work on your action plan with the people agreed.")),
    Stage(7, "follow_up", N_("Follow-up and treatment"),
          N_("You have your action plan and work on it with the people agreed, until collaboration meeting 2."),
          N_("The measures have started, based on your needs."),
          N_("Collaboration meeting 2, at the latest six months after meeting 1.")),
    Stage(8, "shm2", N_("Collaboration meeting 2"),
          N_("You, your GP and possibly NAV or others look at how the plan has worked and adjust it."),
          N_("An updated plan from a joint evaluation."),
          N_("Your follow-up continues with your GP.")),
    Stage(9, "closure", N_("Closure"),
          N_("Your further follow-up is with your GP and other local services. They can still ask the pain clinic for advice."),
          N_("You are well looked after by your GP and local services."),
          N_("The pathway is complete.")),
)

FIRST, LAST = 1, len(STAGES)
EXTENDED_INVITATION = 5


def stage(number: int) -> Stage:
    if not FIRST <= number <= LAST:
        raise ValueError(f"no stage {number}")
    return STAGES[number - 1]


# --- National pathway times ------------------------------------------------------------------

@lru_cache(maxsize=64)
def norwegian_holidays(year: int) -> frozenset[date]:
    """Norway's public holidays (the `holidays` package): New Year, Easter (Maundy Thursday to Easter Monday),
    1 and 17 May, Ascension, Whitsun (Sunday and Monday), Christmas and Boxing Day. Not ordinary Sundays."""
    return frozenset(holidays.country_holidays("NO", years=year))


@lru_cache(maxsize=8192)
def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (weekends and Norwegian public holidays skipped).
    Cached: the worklist computes a deadline per listed patient on every view."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in norwegian_holidays(current.year):
            days -= 1
    return current


@dataclass(frozen=True)
class Deadline:
    due: date
    label: str  # msgid


_DEADLINE_LABELS = {2: N_("Decision on the right to health care"), 3: N_("Start of the assessment"),
                    4: N_("Collaboration meeting 1"), 5: N_("Collaboration meeting 1"),
                    6: N_("Collaboration meeting 2"), 7: N_("Collaboration meeting 2")}


def deadline_label(stage_number: int) -> str | None:
    """What the next national target date of a patient in this stage is for (a msgid), or None.
    The label depends on the stage alone: a list showing the stored date needs no stage history."""
    return _DEADLINE_LABELS.get(stage_number)


def next_deadline(stage_number: int, referral_received: date, entered: dict[int, date]) -> Deadline | None:
    """The next national target date for a patient in `stage_number`.

    `entered` maps a stage number to the date the patient last entered it.
    """
    label = deadline_label(stage_number)
    if stage_number == 2:
        return Deadline(add_working_days(referral_received, 10), label)
    if stage_number == 3:
        return Deadline(referral_received + timedelta(weeks=12), label)
    if stage_number in (4, 5):
        start = entered.get(4) or referral_received + timedelta(weeks=12)
        return Deadline(start + timedelta(weeks=12), label)
    if stage_number in (6, 7):
        shm1 = entered.get(6)
        if shm1 is None:
            return None
        return Deadline(shm1 + timedelta(weeks=26), label)
    return None
