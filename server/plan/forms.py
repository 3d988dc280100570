"""The clinic's action-plan forms: reading, prefilling and validating them (pure functions).

A form is a flat dict of strings (what the browser sent), so a page with errors shows exactly what was
typed. Every draft form carries `draft_version`, the version of the draft it was read from (see
plan/service.py for the locking). Goals are rows `g{i}` (text) with a hidden `g{i}_uid`; the SHM 2
evaluation has `outcome_{uid}` and `comment_{uid}` per measure of the latest published version.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from server.dates import parse_date_or_none
from server.forms import Form, build, choice, date_field, text
from server.i18n import N_
from server.plan.models import OUTCOMES, RESPONSIBLE, STATUSES, VERSION_LABELS

MAX_GOALS = 8
MAX_GOAL = 300
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_TIMEFRAME = 100
MAX_NOTE = 500
MAX_COMMENT = 500

RESPONSIBLE_LABELS = {"patient": N_("The patient"), "gp": N_("GP"), "clinic": N_("The pain clinic"),
                      "nav": N_("NAV"), "participant": N_("A participant of the meeting")}
STATUS_LABELS = {"planned": N_("Planned"), "in_progress": N_("In progress"), "done": N_("Done"),
                 "paused": N_("Paused"), "ended": N_("Ended")}
OUTCOME_LABELS = {"kept": N_("Kept"), "changed": N_("Changed"), "finished": N_("Finished"),
                  "dropped": N_("Dropped")}
VERSION_LABEL_NAMES = {"shm1": N_("SHM 1"), "update": N_("Update between meetings"), "shm2": N_("SHM 2")}
assert set(RESPONSIBLE_LABELS) == set(RESPONSIBLE) and set(STATUS_LABELS) == set(STATUSES)
assert set(OUTCOME_LABELS) == set(OUTCOMES) and set(VERSION_LABEL_NAMES) == set(VERSION_LABELS)

MEASURE_FIELDS = ("title", "description", "responsible", "participant", "goal", "start", "due", "timeframe",
                  "status")

CONFLICT = N_("Someone else saved the plan while you were working on it. Your changes are not saved: "
              "compare the two versions below, correct the form and save again.")
_UID = {"g": re.compile(r"^g-[0-9a-f]{12}$"), "m": re.compile(r"^m-[0-9a-f]{12}$")}


def new_uid(prefix: str) -> str:
    """"g-…" for goals, "m-…" for measures: stable across versions."""
    return f"{prefix}-{secrets.token_hex(6)}"


def is_uid(prefix: str, value: str) -> bool:
    return bool(_UID[prefix].match(value or ""))


class VersionForm(Form):
    """Every draft form carries the version of the draft it was read from."""

    draft_version = text()


def read_version(data: dict[str, Any]) -> str:
    return VersionForm(data).clean("draft_version")


def stale(version: str, current_version: int) -> bool:
    """Was the form read from an older draft than the one stored now?"""
    return version != str(current_version)


# --- Goals --------------------------------------------------------------------------------

def goal_rows(goals: list[dict]) -> list[dict[str, str]]:
    """Always MAX_GOALS rows: the goals, then empty ones to add to."""
    rows = [{"uid": g.get("uid", ""), "text": g.get("text", "")} for g in goals[:MAX_GOALS]]
    return rows + [{"uid": "", "text": ""} for _ in range(MAX_GOALS - len(rows))]


class _Goals(VersionForm):
    def rows(self) -> list[dict[str, str]]:
        return [{"uid": self.clean(f"g{i}_uid"), "text": self.clean(f"g{i}")} for i in range(MAX_GOALS)]

    def check(self) -> dict[str, str]:
        self.validate()
        return self.error_map


GoalsForm = build("GoalsForm", {name: field for i in range(MAX_GOALS)
                                for name, field in ((f"g{i}", text(max=MAX_GOAL)), (f"g{i}_uid", text()))}, _Goals)


def to_goals(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Empty rows are removed; a row keeps its uid (so measures keep pointing at it) or gets a new one."""
    goals, seen = [], set()
    for row in rows:
        if not row["text"]:
            continue
        uid = row["uid"] if is_uid("g", row["uid"]) and row["uid"] not in seen else new_uid("g")
        seen.add(uid)
        goals.append({"uid": uid, "text": row["text"]})
    return goals


# --- Measures -----------------------------------------------------------------------------

class MeasureForm(VersionForm):
    title = text(required=N_("Write what the measure is."), max=MAX_TITLE)
    description = text(max=MAX_DESCRIPTION, multiline=True)
    responsible = choice(RESPONSIBLE, N_("Choose who is responsible."))
    participant = text()
    goal = text()
    start = date_field()
    due = date_field()
    timeframe = text(max=MAX_TIMEFRAME)
    status = choice(STATUSES, N_("Choose a status."))

    @property
    def cleaned(self) -> dict[str, Any]:
        form = super().cleaned
        if form["responsible"] != "participant":
            form["participant"] = ""
        return form

    def check(self, goal_uids: list[str], participants: list[str]) -> dict[str, str]:
        self.validate()
        form = self.cleaned
        if form["responsible"] == "participant" and not self.participant.errors:
            if not form["participant"]:
                self.add_error("participant", N_("Choose the participant who is responsible."))
            elif form["participant"] not in participants:
                self.add_error("participant", N_("This person is not in the meeting. Choose a participant of the "
                                                 "latest collaboration meeting."))
        if form["goal"] and form["goal"] not in goal_uids and not self.goal.errors:
            self.add_error("goal", N_("Choose one of the plan's goals."))
        if self.start.day and self.due.day and self.due.day < self.start.day:
            self.add_error("due", N_("The due date must be the same as or after the start date."))
        return self.error_map


def measure_form(measure: dict | None, draft_version: int | str = "") -> dict[str, str]:
    """A stored measure as form values (a new measure: the defaults)."""
    measure = measure or {"status": "planned"}
    form = {name: str(measure.get(name) or "") for name in MEASURE_FIELDS}
    return form | {"draft_version": str(draft_version)}


def to_measure(form: dict[str, str], uid: str, evaluation: dict | None = None) -> dict[str, Any]:
    """A valid form as a measure of the draft (dates stored as ISO)."""
    start, due = parse_date_or_none(form["start"]), parse_date_or_none(form["due"])
    return {"uid": uid, "title": form["title"], "description": form["description"],
            "responsible": form["responsible"], "participant": form["participant"], "goal": form["goal"],
            "start": start.isoformat() if start else "", "due": due.isoformat() if due else "",
            "timeframe": form["timeframe"], "status": form["status"], "evaluation": evaluation}


# --- SHM 2 evaluation ---------------------------------------------------------------------

def evaluation_form(measures: list[dict], draft: dict, draft_version: int | str) -> dict[str, str]:
    """Prefill from the draft's evaluations of the given (published) measures."""
    current = {m["uid"]: m.get("evaluation") or {} for m in draft.get("measures", [])}
    form = {"draft_version": str(draft_version)}
    for measure in measures:
        evaluation = current.get(measure["uid"], {})
        form[f"outcome_{measure['uid']}"] = evaluation.get("outcome", "")
        form[f"comment_{measure['uid']}"] = evaluation.get("comment", "")
    return form


class _Evaluation(VersionForm):
    uids: tuple[str, ...] = ()

    def check(self) -> dict[str, str]:
        self.validate()
        for uid in self.uids:
            outcome, comment = f"outcome_{uid}", f"comment_{uid}"
            if self[outcome].errors:
                continue
            if self.clean(outcome) and self.clean(outcome) not in OUTCOMES:
                self.add_error(outcome, N_("Choose what happened to the measure."))
            elif self.clean(comment) and not self.clean(outcome):
                self.add_error(outcome, N_("Choose what happened to the measure, or remove the comment."))
        return self.error_map


def evaluation_form_class(measures: list[dict]) -> type[Form]:
    """The evaluation form of these measures: an outcome and a comment per measure."""
    fields: dict[str, Any] = {"uids": tuple(m["uid"] for m in measures)}
    for measure in measures:
        fields[f"outcome_{measure['uid']}"] = text()
        fields[f"comment_{measure['uid']}"] = text(max=MAX_COMMENT, multiline=True)
    return build("EvaluationForm", fields, _Evaluation)


def evaluations(form: dict[str, str], measures: list[dict]) -> dict[str, dict | None]:
    """uid -> {"outcome", "comment"}, or None where no outcome was chosen."""
    result: dict[str, dict | None] = {}
    for measure in measures:
        outcome = form[f"outcome_{measure['uid']}"]
        result[measure["uid"]] = {"outcome": outcome, "comment": form[f"comment_{measure['uid']}"]} \
            if outcome else None
    return result


# --- Publishing ---------------------------------------------------------------------------

def publish_form(labels_published: list[str], draft_version: int | str) -> dict[str, str]:
    label = "shm1" if not labels_published else "update"
    return {"label": label, "change_note": "", "draft_version": str(draft_version)}


def allowed_labels(labels_published: list[str]) -> list[str]:
    """shm1 for the first version; then updates, and one SHM 2 version."""
    if not labels_published:
        return ["shm1"]
    return ["update"] + ([] if "shm2" in labels_published else ["shm2"])


class PublishForm(VersionForm):
    label = text()
    change_note = text(max=MAX_NOTE, multiline=True)

    def check(self, labels_published: list[str], draft: dict, previous: dict | None
              ) -> tuple[dict[str, str], list[dict]]:
        self.validate()
        missing: list[dict] = []
        form = self.cleaned
        if not draft.get("measures"):
            self.add_error("measures", N_("Add at least one measure before publishing the plan."))
        if form["label"] not in allowed_labels(labels_published):
            self.add_error("label", N_("Choose what kind of version this is."))
        if labels_published and not form["change_note"] and not self.change_note.errors:
            self.add_error("change_note", N_("Write what changed since the last version."))
        if form["label"] == "shm2" and not self.label.errors:
            missing = missing_evaluations(previous, draft)
            if missing:
                self.add_error("evaluation", N_("Evaluate every measure of the last version before publishing "
                                                "the SHM 2 version."))
        return self.error_map, missing


def missing_evaluations(previous: dict | None, draft: dict) -> list[dict]:
    """Measures of the previous version that are still in the draft without an evaluation.

    A measure the clinician removed from the draft needs none: removing it is the decision."""
    in_draft = {m["uid"]: m for m in draft.get("measures", [])}
    missing = []
    for measure in (previous or {}).get("measures", []):
        current = in_draft.get(measure["uid"])
        if current is not None and ((current.get("evaluation") or {}).get("outcome") not in OUTCOMES):
            missing.append(current)
    return missing


def validate_publish(form: dict[str, str], labels_published: list[str], draft: dict, previous: dict | None,
                     locale: str = "en") -> tuple[dict[str, str], list[dict]]:
    return PublishForm(form, locale=locale).check(labels_published, draft, previous)
