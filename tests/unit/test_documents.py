"""Every stored shape of the two JSON documents decodes into its typed structure (no migration):
the SHM wishes answers and the action plan (draft and published versions)."""

from __future__ import annotations

import copy
import json

import msgspec
import pytest

from server.meetings import answers, wishes
from server.meetings.wishes_forms import step_form
from server.plan import document, forms

# --- The wishes ---------------------------------------------------------------------------------

FORM = {"attend": "yes", "part": "part", "part_note": "Bare om arbeid",
        "name_0": "Per Nordmann", "relation_0": "Ektemann", "part_0": "whole",
        "role_0": "physiotherapist", "organisation_0": "Fysio AS", "contact_0": "900 00 000",
        "choice": "gp", "note": "Rullestol", "interpreter": "polsk", "hearing": "yes", "wheelchair": "yes",
        "times_not_working": "mandager", "other": "Trenger pauser", "suggested": ["sleep", "work"], "text": "Jobb"}
# What the app writes: one key per step, each the answer of that step's form object.
WRITTEN = {key: step_form(key, FORM, "en").answer() for key in wishes.STEP_KEYS}

STORED_WISHES = [
    pytest.param(WRITTEN, id="every step as the app writes it"),
    pytest.param({}, id="empty draft"),
    pytest.param(None, id="no document"),
    pytest.param({"gp": {"attend": "yes", "part": "whole"}}, id="one step"),
    pytest.param({"gp": {"attend": "yes", "part": "whole"}, "nav": {"attend": "yes", "part": "part", "part_note": ""},
                  "place": {"choice": "home", "note": ""}, "topics": {"suggested": ["sleep"], "text": "Sove bedre"}},
                 id="the browser tests' answers"),
    pytest.param({"topics": {"suggested": ["sleep"], "text": "Kunne jobbe litt igjen"}}, id="topics only"),
    pytest.param({"relatives": [], "others": []}, id="no one else"),
    pytest.param({"gp": {"attend": "yes"}, "nav": {"attend": "no"}, "relatives": [{"name": "Per"}]},
                 id="fields missing"),
    pytest.param({"gp": {"attend": "yes", "part": "whole", "later": 1}, "future_step": {"x": 1}},
                 id="unknown keys"),
    pytest.param({"place": {"choice": "home", "note": None}, "topics": None}, id="nulls"),
]


@pytest.mark.parametrize("raw", STORED_WISHES)
def test_every_stored_wishes_shape_decodes(raw):
    before = copy.deepcopy(raw)
    decoded = answers.decode(raw)
    assert isinstance(decoded, answers.WishesAnswers)
    assert raw == before  # reading never changes the stored document
    for key in wishes.STEP_KEYS:
        stored = (raw or {}).get(key)
        assert (decoded.get(key) is None) == (stored is None)


def test_the_written_document_reads_back_field_for_field():
    decoded = answers.decode(WRITTEN)
    assert decoded.gp.attend == "yes" and decoded.gp.part == "part"
    assert decoded.nav.part_note == "Bare om arbeid"
    assert [(r.name, r.relation, r.part) for r in decoded.relatives] == [("Per Nordmann", "Ektemann", "whole")]
    assert decoded.others[0].organisation == "Fysio AS" and decoded.others[0].role == "physiotherapist"
    assert decoded.place.choice == "gp" and decoded.needs.hearing and not decoded.needs.vision
    assert decoded.topics.suggested == ["sleep", "work"] and decoded.topics.text == "Jobb"
    # Same shape: the typed document holds exactly what is stored (the JSON column is never rewritten).
    # A typed relative has no delegation: the field reads as None (only a chosen relative with access stores it).
    expected = json.loads(json.dumps(WRITTEN))
    for row in expected["relatives"]:
        row.setdefault("delegation_id", None)
    assert msgspec.to_builtins(decoded) == expected


def test_missing_fields_take_the_defaults_the_forms_would_have_written():
    decoded = answers.decode({"gp": {"attend": "yes"}, "relatives": [{"name": "Per"}], "topics": {}})
    assert decoded.gp.part == "whole" and decoded.relatives[0].part == "whole"
    assert decoded.topics.suggested == [] and decoded.nav is None and decoded.get("no_such_step") is None


# --- The action plan ------------------------------------------------------------------------------

def _measure(uid: str, title: str, responsible: str = "patient", **fields) -> dict:
    """The shape the tests write (tests/http/test_plan_patient.py)."""
    return {"uid": uid, "title": title, "description": "", "responsible": responsible, "participant": "",
            "goal": "g-sleep", "start": "", "due": "", "timeframe": "", "status": "planned",
            "evaluation": None} | fields


MEASURE_FORM = {"title": "Gå tur", "description": "Tjue minutter", "responsible": "participant",
                "participant": "Fysioterapeut Per", "goal": "g-a0b1c2d3e4f5", "start": "2026-02-01",
                "due": "2026-03-14", "timeframe": "innen 3 måneder", "status": "in_progress"}
WRITTEN_PLAN = {"goals": [{"uid": "g-a0b1c2d3e4f5", "text": "Sove bedre"}],
                "measures": [forms.to_measure(MEASURE_FORM, "m-a0b1c2d3e4f5",
                                              {"outcome": "continued", "comment": "Går bra"}),
                             forms.to_measure(MEASURE_FORM | {"status": "planned"}, "m-b0b1c2d3e4f5")]}

STORED_PLANS = [
    pytest.param(WRITTEN_PLAN, id="as the clinic's forms write it"),
    pytest.param({"goals": [], "measures": []}, id="a started plan without goals"),
    pytest.param({}, id="empty draft"),
    pytest.param(None, id="no content"),
    pytest.param({"goals": [{"uid": "g-sleep", "text": "Sove"}],
                  "measures": [_measure("m-walk", "Gå tur", due="2026-03-14"),
                               _measure("m-eval", "Evaluert", evaluation={"outcome": "dropped", "comment": ""})]},
                 id="the tests' documents"),
    pytest.param({"measures": [{"uid": "m-1", "title": "Bare tittel"}]}, id="fields missing"),
    pytest.param({"goals": ["not a goal", {"text": "no uid"}, {"uid": "g-1", "text": "Ok"}],
                  "measures": [None, {"title": "no uid"}, {"uid": "m-1", "title": "Ok", "status": None}]},
                 id="malformed items are skipped"),
    pytest.param({"goals": [{"uid": "g-1", "text": "Ok", "later": True}], "measures": [], "version": 3},
                 id="unknown keys"),
]


@pytest.mark.parametrize("raw", STORED_PLANS)
def test_every_stored_plan_shape_decodes(raw):
    before = copy.deepcopy(raw)
    decoded = document.decode(raw)
    assert isinstance(decoded, document.PlanDocument)
    assert raw == before
    assert all(goal.uid for goal in decoded.goals) and all(measure.uid for measure in decoded.measures)


def test_the_written_plan_reads_back_and_keeps_its_shape():
    decoded = document.decode(WRITTEN_PLAN)
    first = decoded.measure("m-a0b1c2d3e4f5")
    assert first.responsible == "participant" and first.participant == "Fysioterapeut Per"
    assert first.start == "2026-02-01" and first.due == "2026-03-14" and first.status == "in_progress"
    assert first.evaluation == document.Evaluation("continued", "Går bra")
    assert decoded.measure("m-b0b1c2d3e4f5").evaluation is None
    assert decoded.goal_text(first.goal) == "Sove bedre"
    assert msgspec.to_builtins(decoded) == json.loads(json.dumps(WRITTEN_PLAN))


def test_malformed_items_are_left_out_as_the_readers_did_before():
    decoded = document.decode({"goals": ["x", {"uid": "g-1", "text": "Ok"}],
                               "measures": [{"title": "no uid"}, {"uid": "m-1", "status": None}]})
    assert [g.uid for g in decoded.goals] == ["g-1"]
    assert [(m.uid, m.status, m.title) for m in decoded.measures] == [("m-1", "", "")]
