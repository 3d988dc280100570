"""Property-based: arbitrary text and numbers posted to every form route, as the role the route is for,
never give a server error (5xx) — on SQLite and PostgreSQL.

The examples come from Hypothesis strategies (fixed seed, a bounded number per route, so `make test`
stays fast and repeatable). Field names are taken from every form object of the app, so a new form's
fields are fuzzed without touching this file; unknown names and repeated fields are mixed in too.
The examples are drawn first and then posted in the test's event loop (Hypothesis' `@given` does not
drive async tests), so a failure names the exact example instead of a shrunk one.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import server
from server.forms import Form
from server.i18n import today_oslo
from tests.conftest import csrf_token
from tests.http.test_access import (
    HANDLERS,
    device_and_message_of,
    fill_path,
    meeting_of,
    pending_code_for,
    research_yes_of,
)

EXAMPLES_PER_ROUTE = 16


def _form_classes(base: type[Form]) -> list[type[Form]]:
    found = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_form_classes(sub))
    return found


def _field_names() -> list[str]:
    for module in pkgutil.walk_packages(server.__path__, "server."):
        importlib.import_module(module.name)
    names: set[str] = set()
    for cls in _form_classes(Form):
        try:
            names.update(field.name for field in cls(None))
        except Exception:  # noqa: BLE001 - a form that needs more to build is fuzzed by its fields elsewhere
            continue
    return sorted(names)


FIELDS = _field_names()
POST_ROUTES = [(path, handler) for path, method, handler in HANDLERS if method == "POST"]
ROLE_ACCOUNT = {"patient": "patient", "authenticated": "patient", "clinician": "clinician", "admin": "admin",
                "researcher": "researcher", "public": None, "patient_side": "relative", "relative": "relative"}

# Text with anything a keyboard, a paste or a crafted request can carry (no lone surrogates: they
# cannot be encoded as UTF-8 by any client), numbers far outside every column's range, and dates.
TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["0", "-1", "2147483648", "9223372036854775808", "1e309", "NaN", "²", "٣", "0001-01-01",
                     "9999-12-31", "2026-02-30", "25:61", "\x00", "a\x00b", "\u202e", "ﬀ" * 150, "İ" * 150,
                     "x" * 20_000]),
    st.tuples(st.text(max_size=20), st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\x85"]),
              st.text(max_size=20)).map("".join),
)
VALUE = st.one_of(TEXT, st.lists(TEXT, min_size=2, max_size=3))
# Three kinds of example. "text": a plausible form (so a bad value gets as far as the database) whose every
# free-text field carries the same drawn value; "fields": a plausible form with one to three fields of any
# kind replaced; "anything": any fields at all, unknown names and repeated values included.
FORM_DATA = st.one_of(
    st.tuples(st.just("text"), TEXT),
    st.tuples(st.just("fields"), st.dictionaries(keys=st.sampled_from(FIELDS), values=VALUE, min_size=1,
                                                 max_size=3)),
    st.tuples(st.just("anything"), st.dictionaries(keys=st.one_of(st.sampled_from(FIELDS), st.text(min_size=1,
                                                                                                  max_size=12)),
                                                   values=VALUE, max_size=12)),
)
FREE_TEXT = "Tekst"


def plausible(name: str, *, patient_version: int, stage: int) -> str:
    """A value that passes the field's own check on most forms (the fuzzed fields are laid over these)."""
    today = today_oslo()
    fixed = {"version": str(patient_version), "draft_version": "1", "to_stage": str(stage + 1), "answer": "yes",
             "attend": "yes", "part": "whole", "choice": "home", "status": "in_progress", "responsible": "patient",
             "format": "digital", "role": "clinician", "date": (today + timedelta(days=30)).isoformat(),
             "time": "10:00", "duration": "60", "suggested": "sleep", "hearing": "", "vision": "",
             "wheelchair": "", "code": "ABCD-EFGH-JKLM", "q": "Anne", "goal": "g-a0b1c2d3e4f5",
             "p0_kind": "gp", "p0_part": "whole", "proposed_time": ""}
    if name in fixed:
        return fixed[name]
    if name.endswith(("_on", "birth_date", "start", "due")):
        return (today - timedelta(days=100)).isoformat()
    if name.endswith(("_part", "_kind")) or name.startswith(("part_", "role_")):
        return ""
    return FREE_TEXT


def _examples(route: str) -> list[tuple[str, object]]:
    drawn: list[tuple[str, object]] = []

    @seed(sum(map(ord, route)))
    @settings(max_examples=EXAMPLES_PER_ROUTE, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(FORM_DATA)
    def collect(data: tuple[str, object]) -> None:
        drawn.append(data)

    collect()
    return drawn


def test_the_fuzzer_sees_the_forms_fields():
    """Guards the test itself: the field list really comes from the app's form objects."""
    for name in ("name", "birth_date", "to_stage", "accepted_on", "answer", "reason", "status", "note", "code"):
        assert name in FIELDS, name
    assert len(POST_ROUTES) >= 25


@pytest.mark.parametrize("path,handler", POST_ROUTES, ids=[path for path, _ in POST_ROUTES])
async def test_arbitrary_input_never_gives_a_server_error(world, client, db, path, handler):
    patient, patient_account = await world.patient("Anne A")
    clinician = await world.staff("clinician", "Cecilie Clinician")
    admin = await world.staff("admin", "Arne Admin")
    researcher = await world.staff("researcher", "Rita Researcher")
    relative, delegation = await world.relative(patient, ("see", "act"), "Ola Nordmann")
    _, other_delegation = await world.relative(patient, ("see",), "Someone Else")
    accounts = {"patient": patient_account, "clinician": clinician, "admin": admin, "researcher": researcher,
                "relative": relative}
    meeting_id, participant_id, token = await meeting_of(db, patient.id)
    code_id = await pending_code_for(db, clinician.id)
    event_id = await research_yes_of(db, patient.id)
    device_id, notification_id = await device_and_message_of(db, patient_account.id, patient.id, "fuzz")
    url = fill_path(path, patient_id=patient.id, credential_id=1, session_id=1, account_id=clinician.id,
                    code_id=code_id, meeting_id=meeting_id, participant_id=participant_id, event_id=event_id,
                    token=token, device_id=device_id, notification_id=notification_id,
                    delegation_id=other_delegation.id)
    assert "{" not in url, f"fill in the path parameter of {path}"
    # The patient's pages that relatives may use are fuzzed as a relative with see + act: their input
    # goes through the same forms, with the relative's attribution on top.
    account = accounts.get(ROLE_ACCOUNT[handler.opt["policy"]])

    statuses = []
    base = {name: plausible(name, patient_version=patient.version, stage=patient.stage) for name in FIELDS}
    for kind, drawn in _examples(path):
        if kind == "text":
            example = {name: drawn if value == FREE_TEXT else value for name, value in base.items()}
        else:
            example = base | drawn if kind == "fields" else drawn
        if account is relative:  # a previous example may have logged out or ended the session
            await world.login_as_relative(relative, delegation)
        else:
            await world.login_as(account)
        csrf = await csrf_token(client, "/enroll")
        response = await client.post(url, data={**example, "_csrf_token": csrf}, headers={"x-csrftoken": csrf},
                                     follow_redirects=False)
        assert response.status_code < 500, f"POST {url} with {example!r} -> {response.status_code}"
        statuses.append(response.status_code)
    # The requests reached the handler as the right role: not all turned away at the door (CSRF, policy).
    assert set(statuses) - {401, 403}, f"every example was refused before the handler: {statuses}"
