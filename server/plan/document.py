"""The action plan as a typed document (msgspec): goals and measures, each with a stable uid.

The draft and every published version are stored as this JSON shape (written by plan/forms.py and
plan/service.py as plain dicts, so the stored bytes do not change); readers decode it once with
`decode`. Items without a uid are skipped, missing fields take the defaults, unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Goal(msgspec.Struct):
    uid: str
    text: str = ""


class Evaluation(msgspec.Struct):
    outcome: str = ""  # continued | changed | dropped | done ... (plan/models.py OUTCOMES)
    comment: str = ""


class Measure(msgspec.Struct):
    uid: str
    title: str = ""
    description: str = ""
    responsible: str = ""  # patient | gp | clinic | nav | participant
    participant: str = ""
    goal: str = ""  # a goal's uid, or ""
    start: str = ""  # ISO date or ""
    due: str = ""
    timeframe: str = ""
    status: str = ""
    evaluation: Evaluation | None = None


class PlanDocument(msgspec.Struct):
    goals: list[Goal] = msgspec.field(default_factory=list)
    measures: list[Measure] = msgspec.field(default_factory=list)

    def goal_text(self, uid: str) -> str:
        return next((goal.text for goal in self.goals if goal.uid == uid), "")

    def measure(self, uid: str) -> Measure | None:
        return next((measure for measure in self.measures if measure.uid == uid), None)


def _items(raw: dict, key: str) -> list[dict]:
    return [{k: v for k, v in item.items() if v is not None or k == "evaluation"}
            for item in raw.get(key) or [] if isinstance(item, dict) and item.get("uid")]


def decode(raw: Any) -> PlanDocument:
    """A stored plan document (the draft or a version's content; None or {} for none yet)."""
    if not isinstance(raw, dict):
        return PlanDocument()
    return msgspec.convert({"goals": _items(raw, "goals"), "measures": _items(raw, "measures")}, PlanDocument,
                           strict=False)
