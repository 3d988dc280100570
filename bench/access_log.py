"""The patient's access log with a large audit table (issue 9: "it must stay fast with a large audit table").

Run: `.venv/bin/python bench/access_log.py` (SQLite) or with BENCH_DATABASE_URL=postgresql://... .
BENCH_EVENTS audit events (default 200 000) over BENCH_PATIENTS patients (default 2 000); the measured
patient has a tenth of them. A quarter of the events are list views (a worklist or patient-list page: one
event naming 25 patients in audit_event_patients), the measured patient on a tenth of those lists.
Target: p95 under 150 ms per page.
Not part of `make test`: timings belong here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from server.access import sessions  # noqa: E402
from server.access.service import create_account  # noqa: E402
from server.app import create_app  # noqa: E402
from server.audit.models import AuditEvent, AuditEventPatient  # noqa: E402
from server.audit.service import GENESIS, _canonical, compute_hash  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from server.i18n import today_oslo  # noqa: E402
from server.seed import build_patient  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "200000"))
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))
TARGET_P95_MS = 150
ACTIONS = ["patient.viewed", "plan.viewed", "meeting.viewed", "meeting.wishes_reviewed", "plan.measure_saved"]


async def populate(url: str) -> tuple[str, int, int]:
    engine = make_engine(url)
    rng = random.Random(1)
    async with make_sessionmaker(engine)() as db:
        for _ in range(PATIENTS):
            db.add(build_patient("Bench Patient", 5, today_oslo() - timedelta(days=60)))
        await db.commit()
        patient_account = await create_account(db, "patient", "Bench Patient", 1)
        clinicians = [await create_account(db, "clinician", f"Clinician {i}") for i in range(20)]
        _, token = await sessions.start(db, patient_account.id, "bench")
        await db.commit()
        prev, start = GENESIS, utcnow() - timedelta(days=365)
        for first in range(1, EVENTS + 1, 10_000):
            rows, listed_rows = [], []
            for seq in range(first, min(first + 10_000, EVENTS + 1)):
                at = start + timedelta(seconds=seq * 150)
                actor = rng.choice(clinicians).id
                listed = None
                if rng.random() < 0.25:  # a list page: one event naming 25 patients
                    patient, action = None, "patient.list_view"
                    others = set(rng.sample(range(2, PATIENTS + 1), 24))
                    listed = sorted(others | ({1} if rng.random() < 0.1 else set()))
                    listed_rows += [{"event_id": seq, "patient_id": p, "actor_account_id": actor} for p in listed]
                else:
                    # The measured patient (id 1) is a heavy one: a tenth of all events.
                    patient, action = (1 if rng.random() < 0.1 else rng.randint(1, PATIENTS)), rng.choice(ACTIONS)
                digest = compute_hash(prev, _canonical(seq, at, actor, "clinician", patient, action, "ok", "", "",
                                                       None, listed))
                rows.append({"id": seq, "seq": seq, "at": at, "actor_account_id": actor, "actor_role": "clinician",
                             "patient_id": patient, "action": action, "outcome": "ok", "request_id": "",
                             "detail": "", "patient_count": None if listed is None else len(listed),
                             "prev_hash": prev, "hash": digest})
                prev = digest
            await db.execute(insert(AuditEvent), rows)
            if listed_rows:
                await db.execute(insert(AuditEventPatient), listed_rows)
            await db.commit()
        if engine.dialect.name == "postgresql":
            await db.execute(text("ANALYZE audit_events"))
            await db.execute(text("ANALYZE audit_event_patients"))
            await db.commit()
    await engine.dispose()
    return token, clinicians[0].id, patient_account.id


async def measure(settings: Settings, token: str, clinician_id: int) -> dict[str, list[float]]:
    app = create_app(settings)
    queries = {"first page": "/access/log", "page 2 (keyset)": "/access/log?before={before}",
               "one person": f"/access/log?who={clinician_id}",
               "one month": "/access/log?since=2026-06-01&until=2026-06-30"}
    results: dict[str, list[float]] = {}
    async with AsyncTestClient(app=app, base_url="https://bench.local") as client:
        client.cookies.set(sessions.COOKIE_NAME, token, domain="bench.local")
        first = await client.get("/access/log")
        assert first.status_code == 200 and ("The log is complete" in first.text or "Loggen er hel" in first.text)
        before = re.search(r"before=(\d+)", first.text)
        for label, path in queries.items():
            path = path.format(before=before.group(1) if before else "")
            timings = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                response = await client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, path
            results[label] = timings
    return results


def main() -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = normalise_database_url(os.environ.get("BENCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp}/bench.db"))
        settings = Settings(database_url=url, secret_key="bench", var_dir=Path(tmp))
        if settings.database_url.startswith("postgresql"):
            async def reset():
                engine = make_engine(url)
                async with engine.begin() as conn:
                    await conn.execute(text("DROP SCHEMA public CASCADE"))
                    await conn.execute(text("CREATE SCHEMA public"))
                await engine.dispose()
            asyncio.run(reset())
        db_upgrade(settings)
        started = time.perf_counter()
        token, clinician_id, _ = asyncio.run(populate(url))
        print(f"{EVENTS} audit events on {url.split(':')[0]} in {time.perf_counter() - started:.1f} s")
        results = asyncio.run(measure(settings, token, clinician_id))
    failed = False
    print(f"{'query':<20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, timings in results.items():
        p95 = statistics.quantiles(timings, n=20)[18]
        failed |= p95 > TARGET_P95_MS
        print(f"{label:<20} {statistics.median(timings):8.1f} {p95:8.1f} {max(timings):8.1f}")
    print(f"target p95 < {TARGET_P95_MS} ms: {'MISSED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
