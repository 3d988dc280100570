"""Comparing two versions of an action plan: what a patient reads when comparing SHM 1 with SHM 2."""

from __future__ import annotations

import copy

from server.plan.diff import Evaluation, FieldChange, GoalChange, compare


def measure(uid: str, title: str, **fields) -> dict:
    base = {"uid": uid, "title": title, "description": "", "responsible": "patient", "participant": "",
            "goal": "g-1", "start": "", "due": "", "timeframe": "", "status": "planned", "evaluation": None}
    return base | fields


def plan(*measures: dict, goals=None) -> dict:
    return {"goals": goals if goals is not None else [{"uid": "g-1", "text": "Sove bedre"}],
            "measures": list(measures)}


V1 = plan(measure("m-walk", "Gå tur hver dag", due="2026-03-14"),
          measure("m-gp", "Time hos fastlegen", responsible="gp"),
          measure("m-nav", "Møte med NAV", responsible="nav"))


def test_identical_versions_have_no_changes():
    result = compare(V1, copy.deepcopy(V1))
    assert not result.has_changes
    assert result.measures_added == result.measures_removed == result.measures_changed == result.measures_moved == ()


def test_added_and_removed_measures():
    v2 = plan(V1["measures"][0], V1["measures"][2], measure("m-pool", "Trening i basseng", responsible="clinic"))
    result = compare(V1, v2)
    assert [m["uid"] for m in result.measures_added] == ["m-pool"]
    assert [m["title"] for m in result.measures_removed] == ["Time hos fastlegen"]
    assert result.measures_changed == () and result.measures_moved == ()  # a removal alone is no move
    assert result.has_changes


def test_changed_fields_are_listed_in_the_agreed_order():
    v2 = copy.deepcopy(V1)
    v2["measures"][0] |= {"status": "in_progress", "title": "Gå tur fem dager i uka", "due": "2026-04-01",
                          "timeframe": "innen 3 måneder"}
    v2["measures"][1] |= {"responsible": "participant", "participant": "Fysioterapeut Per"}
    result = compare(V1, v2)
    walk, gp = result.measures_changed
    assert walk.uid == "m-walk" and walk.title == "Gå tur fem dager i uka"
    assert walk.changes == (FieldChange("title", "Gå tur hver dag", "Gå tur fem dager i uka"),
                            FieldChange("due", "2026-03-14", "2026-04-01"),
                            FieldChange("timeframe", "", "innen 3 måneder"),
                            FieldChange("status", "planned", "in_progress"))
    assert gp.changes == (FieldChange("responsible", "gp", "participant"),
                          FieldChange("participant", "", "Fysioterapeut Per"))


def test_a_new_goal_for_a_measure_is_shown_as_the_goals_text():
    v2 = copy.deepcopy(V1)
    v2["goals"].append({"uid": "g-2", "text": "Komme tilbake i jobb"})
    v2["measures"][2]["goal"] = "g-2"
    (change,) = compare(V1, v2).measures_changed
    assert change.changes == (FieldChange("goal", "Sove bedre", "Komme tilbake i jobb"),)


def test_reordered_measures_name_only_the_one_that_moved():
    walk, gp, nav = V1["measures"]
    result = compare(V1, plan(gp, nav, walk))
    assert [(m.uid, m.old_position, m.new_position) for m in result.measures_moved] == [("m-walk", 1, 3)]
    assert result.measures_changed == () and result.measures_added == () and result.has_changes


def test_a_measure_both_moved_and_changed_is_in_both_lists():
    walk, gp, nav = copy.deepcopy(V1["measures"])
    nav["status"] = "done"
    result = compare(V1, plan(nav, walk, gp))
    assert [m.uid for m in result.measures_moved] == ["m-nav"]
    assert [c.uid for c in result.measures_changed] == ["m-nav"]


def test_goals_added_removed_and_changed():
    old = plan(goals=[{"uid": "g-1", "text": "Sove bedre"}, {"uid": "g-2", "text": "Mindre smerte"}])
    new = plan(goals=[{"uid": "g-1", "text": "Sove hele natten"}, {"uid": "g-3", "text": "Jobbe 50 %"}])
    result = compare(old, new)
    assert result.goals_changed == (GoalChange("g-1", "Sove bedre", "Sove hele natten"),)
    assert [g["text"] for g in result.goals_added] == ["Jobbe 50 %"]
    assert [g["text"] for g in result.goals_removed] == ["Mindre smerte"]


def test_the_shm2_evaluation_of_each_measure_is_shown_once():
    v2 = copy.deepcopy(V1)
    v2["measures"][0]["evaluation"] = {"outcome": "kept", "comment": "Går bra, fortsetter"}
    v2["measures"][2] |= {"status": "ended", "evaluation": {"outcome": "dropped", "comment": ""}}
    result = compare(V1, v2)
    assert result.evaluations == (Evaluation("m-walk", "Gå tur hver dag", "kept", "Går bra, fortsetter"),
                                  Evaluation("m-nav", "Møte med NAV", "dropped", ""))
    assert [c.changes for c in result.measures_changed] == [(FieldChange("status", "planned", "ended"),)]
    # A later update that carries the same evaluations over does not repeat them.
    assert compare(v2, copy.deepcopy(v2)).evaluations == ()


def test_empty_or_partial_documents_do_not_break_the_comparison():
    result = compare({}, V1)
    assert len(result.measures_added) == 3 and len(result.goals_added) == 1
    assert not compare({}, {"measures": None, "goals": None}).has_changes
