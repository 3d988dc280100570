"""uvicorn or granian for `samhandling serve --workers N`? Both serve the same app (server.cli:worker_app)
with N worker processes on PostgreSQL (BENCH_PG_URL, emptied and filled at BENCH_SCALE, default 0.1);
each runs the same closed loop of mixed patient pages (bench/capacity.py) for BENCH_SECONDS, alternating
uvicorn, granian, uvicorn, granian … (BENCH_ROUNDS pairs) so that a change in the machine's load hits both.

Reports per run: completed requests/s, p50/p95, and the SERVER's CPU per request (user + system time of
the server process and all its children, from /proc; PostgreSQL's backends and the client not counted),
which is the figure that survives a busy machine. granian is not a dependency: install it into the venv
to run this (`.venv/bin/pip install granian`). Not part of `make test`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.capacity import closed_loop  # noqa: E402
from bench.fill import fill, reset_postgresql  # noqa: E402
from bench.load import ROOT, _free_port  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of `root` and every process descended from it."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def start(kind: str, settings: Settings, port: int) -> subprocess.Popen:
    env = os.environ | {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
                        "SAMHANDLING_VAR_DIR": str(settings.var_dir), "PUBLIC_ORIGIN": f"http://localhost:{port}"}
    if kind == "uvicorn":
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", str(WORKERS)]
    else:
        granian = shutil.which("granian", path=str(Path(sys.executable).parent))
        command = [granian, "--interface", "asgi", "--factory", "--workers", str(WORKERS), "--host", "127.0.0.1",
                   "--port", str(port), "--no-ws", "--log-level", "warning", "server.cli:worker_app"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    time.sleep(0.5 * WORKERS)
    return process


def main() -> int:
    if not shutil.which("granian", path=str(Path(sys.executable).parent)):
        print("granian is not installed in this venv: .venv/bin/pip install granian")
        return 1
    if not os.environ.get("BENCH_PG_URL"):
        print("set BENCH_PG_URL (a PostgreSQL database this may empty)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=normalise_database_url(os.environ["BENCH_PG_URL"]), secret_key="bench",
                            var_dir=Path(tmp))
        asyncio.run(reset_postgresql(settings.database_url))
        db_upgrade(settings)
        fixture = asyncio.run(fill(settings.database_url, max(200, int(10_000 * SCALE)),
                                   max(10_000, int(1_000_000 * SCALE)), 200))
        figures: dict[str, list[tuple[float, float]]] = {"uvicorn": [], "granian": []}
        for _round in range(ROUNDS):
            for kind in ("uvicorn", "granian"):
                port = _free_port()
                process = start(kind, settings, port)
                base = f"http://127.0.0.1:{port}"
                try:
                    asyncio.run(closed_loop(base, fixture.patient_tokens[:20]))  # warm up
                    load = open("/proc/loadavg").read().split()[0]
                    cpu0 = tree_cpu(process.pid)
                    rate, latencies, errors, _ = asyncio.run(closed_loop(base, fixture.patient_tokens))
                    cpu_ms = (tree_cpu(process.pid) - cpu0) * 1000 / max(1, len(latencies))
                finally:
                    process.terminate()
                    process.wait(20)
                q = statistics.quantiles(latencies, n=100)
                figures[kind].append((rate, cpu_ms))
                print(f"{kind:<8} {WORKERS} workers: {rate:6.0f} req/s  p50 {q[49]:5.0f} ms  p95 {q[94]:5.0f} ms  "
                      f"server CPU {cpu_ms:5.2f} ms/request  errors {errors}  (load {load})", flush=True)
        for kind, runs in figures.items():
            print(f"{kind:<8} mean {statistics.mean(r for r, _ in runs):.0f} req/s, "
                  f"{statistics.mean(c for _, c in runs):.2f} ms server CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
