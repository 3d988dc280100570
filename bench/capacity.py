"""Closed-loop capacity: mixed patient pages (home, meeting, plan, inbox) from CONCURRENCY clients that
each send the next request when the last answer arrives, against `samhandling serve --workers N` for
N = 1 and 2 on PostgreSQL (BENCH_PG_URL, emptied) or SQLite. Reports completed requests per second and
p50/p95 latency; unlike the fixed-rate load it cannot collapse when offered more than it can serve, so
the ratio 2 processes / 1 process is the figure for "does a second process add anything".

`python bench/capacity.py` (BENCH_SCALE, BENCH_SECONDS=10, CONCURRENCY=16). Not part of `make test`.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402

from bench.fill import fill, reset_postgresql  # noqa: E402
from bench.load import serving  # noqa: E402
from server.access import sessions  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "16"))
PAGES = ("/home", "/meeting", "/plan", "/inbox")


async def lock_waits(url: str, stop: float) -> list[int]:
    """Samples (every 0.2 s) of how many PostgreSQL backends wait for an advisory lock (the audit chain's)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    samples = []
    try:
        while time.perf_counter() < stop:
            samples.append(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                               "AND wait_event = 'advisory'"))
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return samples


async def closed_loop(base: str, tokens: list[str], url: str = "") -> tuple[float, list[float], int, list[int]]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + SECONDS

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        async with aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=30),
                                         cookie_jar=aiohttp.DummyCookieJar()) as http:
            while time.perf_counter() < stop:
                page, token = rng.choice(PAGES), rng.choice(tokens)
                started = time.perf_counter()
                try:
                    async with http.get(page, headers={"cookie": f"{sessions.COOKIE_NAME}={token}"},
                                        allow_redirects=False) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

    started = time.perf_counter()
    sampling = asyncio.ensure_future(lock_waits(url, stop) if url.startswith("postgresql") else asyncio.sleep(0, []))
    await asyncio.gather(*(client(n) for n in range(CONCURRENCY)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors, await sampling


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_PG_URL") or f"sqlite+aiosqlite:///{tmp}/capacity.db"
        settings = Settings(database_url=normalise_database_url(url), secret_key="bench", var_dir=Path(tmp))
        if settings.database_url.startswith("postgresql"):
            asyncio.run(reset_postgresql(settings.database_url))
        db_upgrade(settings)
        fixture = asyncio.run(fill(settings.database_url, max(200, int(10_000 * SCALE)),
                                   max(10_000, int(1_000_000 * SCALE)), 200))
        results = {}
        for workers in (1, 2) if settings.database_url.startswith("postgresql") else (1,):
            with serving(settings, workers) as base:
                asyncio.run(closed_loop(base, fixture.patient_tokens[:20]))  # warm up (shorter pages cache)
                load = open("/proc/loadavg").read().strip()
                rate, latencies, errors, waits = asyncio.run(
                    closed_loop(base, fixture.patient_tokens, settings.database_url))
            q = statistics.quantiles(latencies, n=100)
            results[workers] = rate
            waiting = f"; backends waiting for the chain lock: mean {statistics.mean(waits):.1f}, max {max(waits)}" \
                if waits else ""
            print(f"{workers} process(es), {CONCURRENCY} clients: {rate:.0f} req/s, p50 {q[49]:.0f} ms, "
                  f"p95 {q[94]:.0f} ms, errors {errors}{waiting}; load average before: {load}", flush=True)
        if 2 in results:
            print(f"2 processes / 1 process: {results[2] / results[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
