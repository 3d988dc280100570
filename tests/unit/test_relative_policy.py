"""policy.can for relatives: their scopes, for the one patient they act for; never the patient's own matters."""

from __future__ import annotations

import pytest

from server.access.policy import (
    EDIT_WISHES,
    MANAGE_DELEGATIONS,
    RESEARCH,
    UPDATE_OWN_MEASURES,
    VIEW_ACCESS_LOG,
    VIEW_MEETING,
    VIEW_PATIENT,
    VIEW_PLAN,
    Actor,
    can,
)


def relative(*scopes: str, patient_id: int = 7) -> Actor:
    return Actor(account_id=50, role="relative", display_name="Ola", patient_id=patient_id, scopes=frozenset(scopes))


@pytest.mark.parametrize("action", [VIEW_PATIENT, VIEW_MEETING, VIEW_PLAN])
def test_see_lets_a_relative_read_but_not_change(action):
    assert can(relative("see"), action, 7)
    assert not can(relative("see"), EDIT_WISHES, 7) and not can(relative("see"), UPDATE_OWN_MEASURES, 7)


def test_act_lets_a_relative_change_the_patients_own_things():
    assert can(relative("see", "act"), EDIT_WISHES, 7) and can(relative("see", "act"), UPDATE_OWN_MEASURES, 7)


def test_reminders_alone_opens_no_page():
    assert not any(can(relative("reminders"), action, 7) for action in (VIEW_PATIENT, VIEW_PLAN, EDIT_WISHES))


@pytest.mark.parametrize("action", [MANAGE_DELEGATIONS, VIEW_ACCESS_LOG, RESEARCH])
def test_the_patients_own_matters_are_never_a_relatives(action):
    assert not can(relative("see", "act", "reminders"), action, 7)
    assert can(Actor(account_id=1, role="patient", patient_id=7), action, 7)


def test_a_relative_never_reaches_another_patient():
    assert not can(relative("see", "act"), VIEW_PLAN, 8) and not can(relative("see", "act"), VIEW_PLAN, None)
    assert not can(relative("see", "act", patient_id=None), VIEW_PLAN, None)
