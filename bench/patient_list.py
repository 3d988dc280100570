"""Patient-list latency with 10 000 patients (issue: "it must stay fast with 10 000 patients").

Run: `make bench` (SQLite) or `BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/test make bench`.
Target: p95 under 150 ms per list request on this 2-core machine, for every query shape below.
Not part of `make test`: timings belong here, not in pass/fail tests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from server.access import sessions  # noqa: E402
from server.access.service import create_account  # noqa: E402
from server.app import create_app  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.i18n import today_oslo  # noqa: E402
from server.seed import FIRST, LAST, build_patient  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))
TARGET_P95_MS = 150
QUERIES = {
    "first page, by deadline": "/clinic/patients",
    "search by name": "/clinic/patients?q=olsen",
    "filter by stage": "/clinic/patients?stage_filter=4",
    "page 200": "/clinic/patients?page=200",
    "search + stage": "/clinic/patients?q=ingrid&stage_filter=7",
}


async def populate(url: str) -> str:
    engine = make_engine(url)
    rng = random.Random(1)
    today = today_oslo()
    async with make_sessionmaker(engine)() as db:
        if engine.dialect.name == "postgresql":
            await db.execute(text("TRUNCATE audit_events, sessions, credentials, enrollment_codes, "
                                  "stage_events, accounts, patients RESTART IDENTITY CASCADE"))
        for start in range(0, PATIENTS, 1000):
            for _ in range(min(1000, PATIENTS - start)):
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.randint(1, 9999)}"
                db.add(build_patient(name, rng.randint(2, 9), today - timedelta(days=rng.randint(5, 400)),
                                     rng.randint(5, 30)))
            await db.commit()
        clinician = await create_account(db, "clinician", "Bench Clinician")
        _, token = await sessions.start(db, clinician.id, "bench")
        await db.commit()
    await engine.dispose()
    return token


async def measure(settings: Settings, token: str) -> dict[str, list[float]]:
    app = create_app(settings)
    results: dict[str, list[float]] = {}
    async with AsyncTestClient(app=app, base_url="https://bench.local") as client:
        client.cookies.set(sessions.COOKIE_NAME, token, domain="bench.local")
        for label, path in QUERIES.items():
            assert (await client.get(path)).status_code == 200, path  # warm up
            timings = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                response = await client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
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
        token = asyncio.run(populate(url))
        print(f"{PATIENTS} patients on {url.split(':')[0]} in {time.perf_counter() - started:.1f} s")
        results = asyncio.run(measure(settings, token))
    failed = False
    print(f"{'query':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, timings in results.items():
        p95 = statistics.quantiles(timings, n=20)[18]
        failed |= p95 > TARGET_P95_MS
        print(f"{label:<26} {statistics.median(timings):8.1f} {p95:8.1f} {max(timings):8.1f}")
    print(f"target p95 < {TARGET_P95_MS} ms: {'MISSED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
