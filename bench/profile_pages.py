"""cProfile of patient pages in-process: `python bench/profile_pages.py [/home /meeting ...]`.

Fills a small database (BENCH_PATIENTS, default 500; BENCH_AUDIT, default 20,000 events; SQLite in a
temporary directory, or BENCH_PG_URL, which is emptied), then serves each page PROFILE_ROUNDS times (default
300) through the same in-process client as bench.py's ceiling measurement and prints CPU per request and
the top functions by own time and by cumulative time (PROFILE=0: without the profiler), and the statements
one request of each page sends. Not part of `make test`.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import in_process  # noqa: E402
from bench.fill import fill, reset_postgresql  # noqa: E402
from server.access import sessions  # noqa: E402
from server.app import create_app  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

ROUNDS = int(os.environ.get("PROFILE_ROUNDS", "300"))
TOP = int(os.environ.get("PROFILE_TOP", "25"))
PROFILE = os.environ.get("PROFILE", "1") != "0"  # 0: CPU per request and statements only


def count_statements(engine) -> Counter:
    """Statements sent per page (the key "total", and the first words of each SQL text)."""
    counts: Counter = Counter()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, _executemany):
        counts["total"] += 1
        counts[" ".join(statement.split()[:4])[:60]] += 1

    return counts


async def profile(settings: Settings, tokens: list[str], pages: list[str]) -> None:
    app = create_app(settings)
    async with in_process(app) as client:
        statements = count_statements(app.state.engine)
        for page in pages:
            statements.clear()
            await client.get(page, headers={"cookie": f"{sessions.COOKIE_NAME}={tokens[-1]}"})
            print(f"=== {page}: {statements['total']} statements (BEGIN/COMMIT on PostgreSQL not counted):",
                  ", ".join(f"{k} x{v}" for k, v in statements.items() if k != "total"))
            requests = [(page, tokens[i % len(tokens)]) for i in range(ROUNDS)]
            for path, token in requests[:20]:
                await client.get(path, headers={"cookie": f"{sessions.COOKIE_NAME}={token}"})
            started = time.process_time()
            for path, token in requests:
                response = await client.get(path, headers={"cookie": f"{sessions.COOKIE_NAME}={token}"})
                assert response.status_code == 200, (path, response.status_code)
            plain = (time.process_time() - started) * 1000 / ROUNDS
            print(f"=== {page}: {plain:.2f} ms CPU per request without the profiler; load average "
                  f"{open('/proc/loadavg').read().strip()}")
            if not PROFILE:
                continue
            profiler = cProfile.Profile()
            started = time.process_time()
            profiler.enable()
            for path, token in requests:
                response = await client.get(path, headers={"cookie": f"{sessions.COOKIE_NAME}={token}"})
                assert response.status_code == 200, (path, response.status_code)
            profiler.disable()
            cpu = (time.process_time() - started) * 1000 / ROUNDS
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(TOP)
            stats.sort_stats("cumulative").print_stats(TOP)
            print(f"=== {page}: {cpu:.2f} ms CPU per request under the profiler ({ROUNDS} requests)")
            print(out.getvalue())


def main() -> int:
    import logging
    logging.getLogger("httpx").setLevel(logging.WARNING)
    pages = sys.argv[1:] or ["/home", "/meeting", "/plan", "/inbox"]
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_PG_URL") or f"sqlite+aiosqlite:///{tmp}/profile.db"
        settings = Settings(database_url=normalise_database_url(url), secret_key="bench", var_dir=Path(tmp),
                            run_worker=False)
        if settings.database_url.startswith("postgresql"):
            asyncio.run(reset_postgresql(settings.database_url))
        db_upgrade(settings)
        fixture = asyncio.run(fill(settings.database_url, int(os.environ.get("BENCH_PATIENTS", "500")),
                                   int(os.environ.get("BENCH_AUDIT", "20000")), 100))
        asyncio.run(profile(settings, fixture.patient_tokens, pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
