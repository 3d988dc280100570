"""Numbers in URLs beyond what the database holds are a 404 (ids in the path) or a 400 / sane default
(query parameters), never a 500; on SQLite and PostgreSQL alike. Every route with an id is covered."""

from __future__ import annotations

import pytest

from server.access.params import query_int
from server.access.policy import ADMIN, AUTHENTICATED, CLINICIAN, PATIENT, PATIENT_SIDE, RESEARCHER
from tests.conftest import csrf_token
from tests.http.test_access import HANDLERS, PLAN

ID_ROUTES = [(path, method, handler.opt["policy"]) for path, method, handler in HANDLERS
             if ":int}" in path and method in ("GET", "POST")]
HUGE = ["2147483648", "9223372036854775808", "99999999999999999999999", "0"]


async def _login(world, policy_name: str):
    if policy_name in (PATIENT, PATIENT_SIDE, AUTHENTICATED):
        patient, account = await world.patient("Anne A")
    else:
        role = {ADMIN: "admin", RESEARCHER: "researcher"}.get(policy_name, "clinician")
        account = await world.staff(role, "Staff")
        patient = None
    await world.login_as(account)
    return patient


@pytest.mark.parametrize("path,method,policy_name", ID_ROUTES, ids=[f"{m} {p}" for p, m, _ in ID_ROUTES])
async def test_an_id_beyond_the_database_is_a_404(client, world, path, method, policy_name):
    await _login(world, policy_name)
    for number in HUGE:
        url = (path.replace("{token:str}", "x").replace("{key:str}", "place").replace("{uid:str}", "m-0"))
        for name in ("patient_id", "meeting_id", "participant_id", "account_id", "credential_id", "session_id",
                     "code_id", "event_id"):
            url = url.replace(f"{{{name}:int}}", number)
        if method == "GET":
            response = await client.get(url, follow_redirects=False)
        else:
            token = await csrf_token(client, "/enroll")
            response = await client.post(url, data={"_csrf_token": token}, follow_redirects=False)
        assert response.status_code == 404, (url, response.status_code)


@pytest.mark.parametrize("query", ["page=99999999999999999999999", "page=2147483648", "page=%C2%B2", "page=-1",
                                   "page=%D9%A3"])
async def test_a_page_number_out_of_range_is_a_400(client, world, query):
    await _login(world, CLINICIAN)
    assert (await client.get(f"/clinic/patients?{query}")).status_code == 400
    assert (await client.get("/clinic/patients?page=2")).status_code == 200


async def test_a_meeting_number_out_of_range_is_a_400(client, world):
    patient, _ = await world.patient("Anne A")
    await _login(world, CLINICIAN)
    for value in ("99999999999999999999", "%C2%B2"):
        response = await client.get(f"/clinic/patients/{patient.id}/meetings/new?number={value}")
        assert response.status_code == 400, value


@pytest.mark.parametrize("query", ["from=%C2%B2", "to=%C2%B2", "from=99999999999999999999&to=1", "from=%D9%A3"])
async def test_a_version_that_is_not_a_plain_number_is_a_404(client, world, db, query):
    from server.plan.models import ActionPlan, PlanVersion

    patient = await _login(world, PATIENT)
    db.add(ActionPlan(patient_id=patient.id, draft=PLAN, versions=[PlanVersion(number=1, label="shm1", content=PLAN)]))
    await db.commit()
    assert (await client.get("/plan/compare?from=1&to=1")).status_code == 200
    assert (await client.get(f"/plan/compare?{query}")).status_code == 404


def test_query_int_reads_only_ascii_digits_in_range():
    assert query_int("12") == 12 and query_int(" 7 ") == 7
    for bad in ("²", "٣", "-1", "0", "1e3", "2147483648", "", None, "12a"):
        assert query_int(bad, default=5) == 5, bad
    assert query_int("0", lo=0) == 0 and query_int("9", hi=8) is None
