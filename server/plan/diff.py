"""Comparing two published versions of an action plan, measure by measure.

`compare(old_content, new_content)` is a pure function of two plan documents (the shape is in
server/plan/models.py). Measures and goals are matched by their `uid`, which stays the same across
versions. It returns plain dataclasses; the templates turn values into readable text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The order in which a changed measure's fields are listed.
FIELDS = ("title", "description", "responsible", "participant", "goal", "start", "due", "timeframe", "status")


@dataclass(frozen=True)
class FieldChange:
    """One field of a measure, before and after. For "goal" the values are the goals' texts."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class MeasureChange:
    uid: str
    title: str  # the title in the newer version
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class Moved:
    """A measure kept in both versions whose place in the list changed (positions count from 1)."""

    uid: str
    title: str
    old_position: int
    new_position: int


@dataclass(frozen=True)
class GoalChange:
    uid: str
    old: str
    new: str


@dataclass(frozen=True)
class Evaluation:
    """A measure's evaluation (at SHM 2) that is new in the newer version."""

    uid: str
    title: str
    outcome: str
    comment: str


@dataclass(frozen=True)
class Comparison:
    measures_added: tuple[dict, ...] = ()
    measures_removed: tuple[dict, ...] = ()
    measures_changed: tuple[MeasureChange, ...] = ()
    measures_moved: tuple[Moved, ...] = ()
    goals_added: tuple[dict, ...] = ()
    goals_removed: tuple[dict, ...] = ()
    goals_changed: tuple[GoalChange, ...] = ()
    evaluations: tuple[Evaluation, ...] = field(default=())

    @property
    def has_changes(self) -> bool:
        return any((self.measures_added, self.measures_removed, self.measures_changed, self.measures_moved,
                    self.goals_added, self.goals_removed, self.goals_changed, self.evaluations))


def _items(content: dict | None, key: str) -> list[dict]:
    return [item for item in (content or {}).get(key) or [] if isinstance(item, dict) and item.get("uid")]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _goal_texts(content: dict | None) -> dict[str, str]:
    return {goal["uid"]: _text(goal.get("text")) for goal in _items(content, "goals")}


def _field_changes(old: dict, new: dict, old_goals: dict[str, str],
                   new_goals: dict[str, str]) -> tuple[FieldChange, ...]:
    changes = []
    for name in FIELDS:
        before, after = _text(old.get(name)), _text(new.get(name))
        if before == after:
            continue
        if name == "goal":
            before, after = old_goals.get(before, ""), new_goals.get(after, "")
        changes.append(FieldChange(name, before, after))
    return tuple(changes)


def _longest_increasing(values: list[int]) -> set[int]:
    """Indexes of one longest strictly increasing subsequence of `values` (O(n²); plans are short)."""
    if not values:
        return set()
    length = [1] * len(values)
    previous = [-1] * len(values)
    for i in range(len(values)):
        for j in range(i):
            if values[j] < values[i] and length[j] + 1 > length[i]:
                length[i], previous[i] = length[j] + 1, j
    index = max(range(len(values)), key=lambda i: length[i])
    keep = set()
    while index != -1:
        keep.add(index)
        index = previous[index]
    return keep


def _moved(old: list[dict], new: list[dict]) -> tuple[Moved, ...]:
    """The fewest kept measures that must have moved to turn the old order into the new one."""
    old_position = {m["uid"]: i for i, m in enumerate(old)}
    kept = [m for m in new if m["uid"] in old_position]
    # Ranks among the kept measures only, so additions and removals alone are not moves.
    kept_uids = {m["uid"] for m in kept}
    old_rank = {uid: rank for rank, uid in enumerate(m["uid"] for m in old if m["uid"] in kept_uids)}
    staying = _longest_increasing([old_rank[m["uid"]] for m in kept])
    new_position = {m["uid"]: i for i, m in enumerate(new)}
    return tuple(Moved(m["uid"], _text(m.get("title")), old_position[m["uid"]] + 1, new_position[m["uid"]] + 1)
                 for i, m in enumerate(kept) if i not in staying)


def _evaluations(old: dict[str, dict], new: list[dict]) -> tuple[Evaluation, ...]:
    found = []
    for measure in new:
        evaluation = measure.get("evaluation")
        if not isinstance(evaluation, dict) or not evaluation.get("outcome"):
            continue
        if evaluation == (old.get(measure["uid"]) or {}).get("evaluation"):
            continue  # carried over from the older version: not news
        found.append(Evaluation(measure["uid"], _text(measure.get("title")), _text(evaluation.get("outcome")),
                                _text(evaluation.get("comment"))))
    return tuple(found)


def compare(old_content: dict, new_content: dict) -> Comparison:
    old_measures, new_measures = _items(old_content, "measures"), _items(new_content, "measures")
    old_by_uid = {m["uid"]: m for m in old_measures}
    new_by_uid = {m["uid"]: m for m in new_measures}
    old_goals, new_goals = _goal_texts(old_content), _goal_texts(new_content)

    changed = []
    for measure in new_measures:
        before = old_by_uid.get(measure["uid"])
        if before is not None:
            changes = _field_changes(before, measure, old_goals, new_goals)
            if changes:
                changed.append(MeasureChange(measure["uid"], _text(measure.get("title")), changes))

    return Comparison(
        measures_added=tuple(m for m in new_measures if m["uid"] not in old_by_uid),
        measures_removed=tuple(m for m in old_measures if m["uid"] not in new_by_uid),
        measures_changed=tuple(changed),
        measures_moved=_moved(old_measures, new_measures),
        goals_added=tuple(g for g in _items(new_content, "goals") if g["uid"] not in old_goals),
        goals_removed=tuple(g for g in _items(old_content, "goals") if g["uid"] not in new_goals),
        goals_changed=tuple(GoalChange(uid, old_goals[uid], text) for uid, text in new_goals.items()
                            if uid in old_goals and old_goals[uid] != text),
        evaluations=_evaluations(old_by_uid, new_measures),
    )
