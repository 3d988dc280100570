"""The clinic's action-plan forms: reading, prefilling and validating them (pure functions).

A form is a flat dict of strings (what the browser sent), so a page with errors shows exactly what was
typed. Every draft form carries `draft_version`, the version of the draft it was read from (see
plan/service.py for the locking). Goals are rows `g{i}` (text) with a hidden `g{i}_uid`; the SHM 2
evaluation has `outcome_{uid}` and `comment_{uid}` per measure of the latest published version.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Any

from server.i18n import N_
from server.plan.models import OUTCOMES, RESPONSIBLE, STATUSES, VERSION_LABELS

MAX_GOALS = 8
MAX_GOAL = 300
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_TIMEFRAME = 100
MAX_NOTE = 500
MAX_COMMENT = 500
MAX_INPUT = 10_000  # what we keep of any field, so an over-long answer can be shown and corrected

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
TOO_LONG = {MAX_GOAL: N_("This can be at most 300 characters."), MAX_TITLE: N_("This can be at most 200 characters."),
            MAX_DESCRIPTION: N_("This can be at most 2000 characters."),
            MAX_TIMEFRAME: N_("This can be at most 100 characters."),
            MAX_NOTE: N_("This can be at most 500 characters.")}
_UID = {"g": re.compile(r"^g-[0-9a-f]{12}$"), "m": re.compile(r"^m-[0-9a-f]{12}$")}


def new_uid(prefix: str) -> str:
    """"g-…" for goals, "m-…" for measures: stable across versions."""
    return f"{prefix}-{secrets.token_hex(6)}"


def is_uid(prefix: str, value: str) -> bool:
    return bool(_UID[prefix].match(value or ""))


def _s(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()[:MAX_INPUT]


def _too_long(errors: dict[str, str], form: dict[str, str], name: str, limit: int) -> None:
    if len(form.get(name, "")) > limit:
        errors[name] = TOO_LONG[limit]


def parse_day(raw: str) -> date | None:
    """An ISO date (from a date input) or a Norwegian 14.03.2027 (typed where date inputs are missing)."""
    raw = (raw or "").strip()
    for parse in (date.fromisoformat, lambda v: datetime.strptime(v, "%d.%m.%Y").date()):
        try:
            return parse(raw)
        except ValueError:
            continue
    return None


def read_version(data: dict[str, Any]) -> str:
    return _s(data, "draft_version")


def stale(version: str, current_version: int) -> bool:
    """Was the form read from an older draft than the one stored now?"""
    return version != str(current_version)


# --- Goals --------------------------------------------------------------------------------

def goal_rows(goals: list[dict]) -> list[dict[str, str]]:
    """Always MAX_GOALS rows: the goals, then empty ones to add to."""
    rows = [{"uid": g.get("uid", ""), "text": g.get("text", "")} for g in goals[:MAX_GOALS]]
    return rows + [{"uid": "", "text": ""} for _ in range(MAX_GOALS - len(rows))]


def read_goals(data: dict[str, Any]) -> list[dict[str, str]]:
    return [{"uid": _s(data, f"g{i}_uid"), "text": _s(data, f"g{i}")} for i in range(MAX_GOALS)]


def validate_goals(rows: list[dict[str, str]]) -> dict[str, str]:
    return {f"g{i}": TOO_LONG[MAX_GOAL] for i, row in enumerate(rows) if len(row["text"]) > MAX_GOAL}


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

def read_measure(data: dict[str, Any]) -> dict[str, str]:
    form = {name: _s(data, name) for name in MEASURE_FIELDS + ("draft_version",)}
    if form["responsible"] != "participant":
        form["participant"] = ""
    return form


def measure_form(measure: dict | None, draft_version: int | str = "") -> dict[str, str]:
    """A stored measure as form values (a new measure: the defaults)."""
    measure = measure or {"status": "planned"}
    form = {name: str(measure.get(name) or "") for name in MEASURE_FIELDS}
    return form | {"draft_version": str(draft_version)}


def validate_measure(form: dict[str, str], goal_uids: list[str], participants: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not form["title"]:
        errors["title"] = N_("Write what the measure is.")
    _too_long(errors, form, "title", MAX_TITLE)
    _too_long(errors, form, "description", MAX_DESCRIPTION)
    if form["responsible"] not in RESPONSIBLE:
        errors["responsible"] = N_("Choose who is responsible.")
    elif form["responsible"] == "participant":
        if not form["participant"]:
            errors["participant"] = N_("Choose the participant who is responsible.")
        elif form["participant"] not in participants:
            errors["participant"] = N_("This person is not in the meeting. Choose a participant of the latest "
                                       "collaboration meeting.")
    if form["goal"] and form["goal"] not in goal_uids:
        errors["goal"] = N_("Choose one of the plan's goals.")
    start, due = parse_day(form["start"]), parse_day(form["due"])
    for name, value in (("start", start), ("due", due)):
        if form[name] and value is None:
            errors[name] = N_("Enter a real date, for example 14.03.2027.")
    if start and due and due < start:
        errors["due"] = N_("The due date must be the same as or after the start date.")
    _too_long(errors, form, "timeframe", MAX_TIMEFRAME)
    if form["status"] not in STATUSES:
        errors["status"] = N_("Choose a status.")
    return errors


def to_measure(form: dict[str, str], uid: str, evaluation: dict | None = None) -> dict[str, Any]:
    """A valid form as a measure of the draft (dates stored as ISO)."""
    start, due = parse_day(form["start"]), parse_day(form["due"])
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


def read_evaluation(data: dict[str, Any], measures: list[dict]) -> dict[str, str]:
    form = {"draft_version": _s(data, "draft_version")}
    for measure in measures:
        for name in (f"outcome_{measure['uid']}", f"comment_{measure['uid']}"):
            form[name] = _s(data, name)
    return form


def validate_evaluation(form: dict[str, str], measures: list[dict]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for measure in measures:
        outcome, comment = f"outcome_{measure['uid']}", f"comment_{measure['uid']}"
        if form[outcome] and form[outcome] not in OUTCOMES:
            errors[outcome] = N_("Choose what happened to the measure.")
        elif form[comment] and not form[outcome]:
            errors[outcome] = N_("Choose what happened to the measure, or remove the comment.")
        _too_long(errors, form, comment, MAX_COMMENT)
    return errors


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


def read_publish(data: dict[str, Any]) -> dict[str, str]:
    return {name: _s(data, name) for name in ("label", "change_note", "draft_version")}


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


def validate_publish(form: dict[str, str], labels_published: list[str], draft: dict,
                     previous: dict | None) -> tuple[dict[str, str], list[dict]]:
    errors: dict[str, str] = {}
    missing: list[dict] = []
    if not draft.get("measures"):
        errors["measures"] = N_("Add at least one measure before publishing the plan.")
    if form["label"] not in allowed_labels(labels_published):
        errors["label"] = N_("Choose what kind of version this is.")
    if labels_published and not form["change_note"]:
        errors["change_note"] = N_("Write what changed since the last version.")
    _too_long(errors, form, "change_note", MAX_NOTE)
    if form["label"] == "shm2" and "label" not in errors:
        missing = missing_evaluations(previous, draft)
        if missing:
            errors["evaluation"] = N_("Evaluate every measure of the last version before publishing the SHM 2 "
                                      "version.")
    return errors, missing
