"""A failing request is logged with its request id, route and error class, and never with patient data."""

from __future__ import annotations

import logging

from server.pathway import service
from tests.conftest import post_form

NAME = "Kari Loggvakt Nordmann"
GP = "Fastlege Hemmelig"


async def test_a_database_error_logs_the_request_not_the_patients_data(client, world, monkeypatch, caplog, capfd):
    await world.login_as(await world.staff())

    def broken_deadline(patient):  # an injected bug: the INSERT then violates NOT NULL on patients.stage
        patient.stage = None

    monkeypatch.setattr(service, "_refresh_deadline", broken_deadline)
    caplog.set_level(logging.DEBUG)
    response = await post_form(client, "/clinic/patients", {
        "name": NAME, "birth_date": "1970-03-14", "gp_name": GP, "gp_office": "Legekontoret Sentrum",
        "referral_received_on": "2026-01-05"}, token_from="/clinic/patients/new")

    assert response.status_code == 500
    logged = caplog.text + "".join(capfd.readouterr())
    for secret in (NAME, GP, "1970-03-14", "Legekontoret"):
        assert secret not in logged, secret
    assert "IntegrityError" in logged  # the error class
    assert "POST /clinic/patients" in logged  # the route
    request_ids = [r.request_id for r in caplog.records if getattr(r, "request_id", "")]
    assert request_ids and request_ids[0] in logged
