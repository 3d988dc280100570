"""CPU per patient page and its constant-context ceiling, in-process on SQLite, for any source tree, so that two
trees (before/after) can be measured back to back on the same filled database file.

    python bench/pages_cpu.py fill TREE /tmp/x.db     # migrate and fill with TREE's code (tokens in /tmp/x.json)
    python bench/pages_cpu.py measure TREE /tmp/x.db  # a fresh copy of the file, bench.py's ceiling method

TREE is a checkout (e.g. `git archive main | tar -x -C /tmp/before`); BENCH_PATIENTS (1,000) and BENCH_AUDIT
(100,000) size the fill. Prints one JSON line with the load average at start and end. Not part of `make test`.
"""

import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

action, tree, dbfile = sys.argv[1], sys.argv[2], Path(sys.argv[3])
sys.path.insert(0, tree)
logging.getLogger("httpx").setLevel(logging.WARNING)

from bench import bench  # noqa: E402
from bench.fill import fill  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.settings import Settings  # noqa: E402

PATIENTS = int(os.environ.get("BENCH_PATIENTS", "1000"))
AUDIT = int(os.environ.get("BENCH_AUDIT", "100000"))


def settings_for(path: Path, var: Path) -> Settings:
    # Sessions made at fill time stay valid however long ago that was; this URL works in older trees too.
    return Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="bench", var_dir=var, run_worker=False,
                    session_idle_minutes=24 * 60)


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


if action == "fill":
    settings = settings_for(dbfile, dbfile.parent)
    db_upgrade(settings)
    fixture = asyncio.run(fill(settings.database_url, PATIENTS, AUDIT, 100))
    dbfile.with_suffix(".json").write_text(json.dumps(fixture.patient_tokens))
else:
    tokens = json.loads(dbfile.with_suffix(".json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "measure.db"
        shutil.copy(dbfile, copy)
        started, load_before = time.perf_counter(), load()
        ratios = asyncio.run(bench.ceiling_ratios(settings_for(copy, Path(tmp)), tokens))
        print(json.dumps({"tree": tree, "load": [load_before, load()],
                          "wall_s": round(time.perf_counter() - started, 1),
                          "ms_cpu_page_and_ceiling": {p: [round(a, 2), round(b, 2)] for p, (a, b) in ratios.items()}}))
