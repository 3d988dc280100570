"""Soak: sustained concurrent writes against a real `samhandling serve` on PostgreSQL. Must end crash-free.

Run: `SOAK_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<db> make soak`
     (SOAK_SECONDS=300 SOAK_CONCURRENCY=24 SOAK_WORKERS=2 by default; SOAK_WORKERS=1 serves one process).
The database is migrated and gets its own patients and staff ("Soak ..."); nothing else is touched.
Not part of `make test`.

Load: clinicians move stages (page read, then POST with the version they saw: a lost race answers 422,
which is fine), record GP acceptances and create patients; patients autosave wishes steps. Every write
also appends to the audit chain, so the writers contend for the same rows and the same lock.

Exit status 1 if any request failed with a 5xx or a broken connection, if a worker died (uvicorn's
supervisor logs "Child process [pid] died" and starts a new one) or wrote a faulthandler trace
("Fatal Python error"), or if the audit chain does not verify afterwards. The server's stderr is kept in
var/soak-server.log.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.access import sessions  # noqa: E402
from server.access.middleware import LANG_COOKIE  # noqa: E402
from server.access.service import create_account  # noqa: E402
from server.audit.service import pending_database, seal_database, verify_database  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.i18n import today_oslo  # noqa: E402
from server.seed import build_patient  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "300"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "24"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "2"))
PATIENTS = int(os.environ.get("SOAK_PATIENTS", "12"))
CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
VERSION_FIELD = re.compile(r'name="version" value="(\d+)"')
CRASH_SIGNS = ("Fatal Python error", "died", "Segmentation fault")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def seed(url: str) -> tuple[list[str], list[tuple[int, str]]]:
    """Clinician session tokens, and (patient id, patient session token) pairs."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            clinicians = []
            for n in range(4):
                account = await create_account(db, "clinician", f"Soak Lege {n}")
                clinicians.append((await sessions.start(db, account.id, "soak"))[1])
            patients = []
            for n in range(PATIENTS):
                patient = build_patient(f"Soak Pasient {n}", 3, today_oslo() - timedelta(weeks=8))
                db.add(patient)
                await db.flush()
                account = await create_account(db, "patient", patient.name, patient.id)
                patients.append((patient.id, (await sessions.start(db, account.id, "soak"))[1]))
            await db.commit()
            return clinicians, patients
    finally:
        await engine.dispose()


class Browser:
    """One signed-in user. Cookies are sent by hand: the CSRF cookie is Secure and this is plain http."""

    def __init__(self, base: str, session_token: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=60)
        self.cookies = {sessions.COOKIE_NAME: session_token, LANG_COOKIE: "en"}
        self.csrf = ""

    def _cookie_header(self) -> dict[str, str]:
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep(self, response: httpx.Response) -> None:
        for name, value in response.cookies.items():
            self.cookies[name] = value

    async def get(self, path: str) -> httpx.Response:
        response = await self.http.get(path, headers=self._cookie_header())
        self._keep(response)
        match = CSRF_META.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    async def post(self, path: str, data: dict, htmx: bool = False) -> httpx.Response:
        headers = self._cookie_header() | {"x-csrftoken": self.csrf}
        if htmx:
            headers |= {"HX-Request": "true", "HX-Target": "autosave-status"}
        response = await self.http.post(path, data=data, headers=headers)
        self._keep(response)
        return response


class Tally:
    def __init__(self) -> None:
        self.statuses: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []

    def note(self, what: str, response: httpx.Response) -> None:
        self.statuses[f"{what} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.failures.append(f"{what}: HTTP {response.status_code}")


async def clinician_loop(browser: Browser, patient_ids: list[int], tally: Tally, until: float) -> None:
    await browser.get("/clinic/patients")
    n = 0
    while time.monotonic() < until:
        n += 1
        patient_id = random.choice(patient_ids)
        try:
            choice = random.random()
            if choice < 0.15:
                response = await browser.post("/clinic/patients", {
                    "name": f"Soak Ny {random.randrange(10**6)}", "birth_date": "1970-03-14",
                    "gp_name": "Fastlege Soak", "gp_office": "Soak legekontor",
                    "referral_received_on": today_oslo().isoformat()})
                tally.note("create", response)
                continue
            page = await browser.get(f"/clinic/patients/{patient_id}")
            tally.note("page", page)
            match = VERSION_FIELD.search(page.text)
            if not match:
                continue
            if choice < 0.3:
                day = today_oslo() - timedelta(days=random.randrange(1, 20))
                response = await browser.post(f"/clinic/patients/{patient_id}/gp-acceptance",
                                              {"accepted_on": day.isoformat(), "version": match.group(1)})
                tally.note("gp", response)
            else:
                response = await browser.post(f"/clinic/patients/{patient_id}/stage", {
                    "to_stage": str(random.randrange(2, 5)), "note": f"soak {n}", "reason": f"soak {n}",
                    "version": match.group(1)})
                tally.note("move", response)
        except httpx.HTTPError as exc:
            tally.failures.append(f"clinician: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.5)


async def patient_loop(browser: Browser, tally: Tally, until: float) -> None:
    await browser.get("/meeting/wishes/gp")
    n = 0
    while time.monotonic() < until:
        n += 1
        step, data = random.choice([
            ("needs", {"interpreter": f"tolk {n}", "other": "x" * random.randrange(0, 1500)}),
            ("topics", {"suggested": ["sleep", "work"], "text": f"sove {n} " + "y" * random.randrange(0, 1500)}),
            ("place", {"choice": "clinic", "note": f"note {n}"}),
            ("gp", {"attend": "yes", "part": "whole"}),
        ])
        try:
            tally.note("wishes", await browser.post(f"/meeting/wishes/{step}/autosave", data, htmx=True))
        except httpx.HTTPError as exc:
            tally.failures.append(f"patient: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.5)


async def wait_until_up(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"the server exited at start (status {server.returncode})")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("the server did not come up")


async def main() -> int:
    raw = os.environ.get("SOAK_DATABASE_URL", "")
    if not raw.startswith("postgresql"):
        print("Set SOAK_DATABASE_URL=postgresql://user@host:port/db (the soak is for PostgreSQL).")
        return 2
    url = normalise_database_url(raw)
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    await asyncio.to_thread(db_upgrade, Settings(database_url=url, secret_key="soak", var_dir=var))
    intact_before = (await verify_database(url))[1] is None  # a database that was tampered with stays so
    clinicians, patients = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = var / "soak-server.log"
    env = os.environ | {"DATABASE_URL": raw, "SECRET_KEY": "soak-secret", "PUBLIC_ORIGIN": f"http://localhost:{port}"}
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                                   "--workers", str(WORKERS)], cwd=ROOT, env=env, stdout=log, stderr=log,
                                  start_new_session=True)
    tally = Tally()
    started = time.monotonic()
    try:
        await wait_until_up(base, server)
        print(f"soak: {SECONDS:.0f} s, {CONCURRENCY} clients, {WORKERS} worker(s), server pid {server.pid}, "
              f"port {port}", flush=True)
        until = time.monotonic() + SECONDS
        patient_ids = [pid for pid, _ in patients]
        tasks = []
        for n in range(CONCURRENCY):
            if n % 2 == 0:
                browser = Browser(base, clinicians[n // 2 % len(clinicians)])
                tasks.append(clinician_loop(browser, patient_ids, tally, until))
            else:
                tasks.append(patient_loop(Browser(base, patients[n // 2 % len(patients)][1]), tally, until))
        await asyncio.gather(*tasks)
        alive = server.poll() is None
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    elapsed = time.monotonic() - started
    log_text = log_path.read_text(errors="replace")
    crashes = [line for line in log_text.splitlines() if any(sign in line for sign in CRASH_SIGNS)]
    await seal_database(url)  # what the stopped server had not sealed yet
    checked, broken = await verify_database(url)
    unsealed = await pending_database(url)
    total = sum(tally.statuses.values())
    print(f"soak: {total} requests in {elapsed:.0f} s ({total / elapsed:.0f}/s)")
    for key, count in sorted(tally.statuses.items()):
        print(f"  {key:<14} {count}")
    print(f"audit chain: {checked} events, {'intact' if broken is None else f'BROKEN at {broken}'}"
          f"{f', {unsealed} left unsealed' if unsealed else ''}")
    problems = tally.failures[:20] + crashes[:20]
    if not alive:
        problems.append(f"the server process exited (status {server.returncode})")
    if broken is not None and intact_before:
        problems.append("the audit chain is broken")
    if unsealed:
        problems.append("audit events left unsealed after `seal`")
    if problems or tally.failures:
        print(f"FAILED: {len(tally.failures)} failed requests, {len(crashes)} crash lines in {log_path}")
        for line in problems:
            print("  " + line)
        return 1
    print("OK: no 5xx, no broken connection, no worker died")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
