"""A fixed-arrival-rate load generator (httpx, asyncio) and a server started for it.

Request i is due at t0 + i/rate whatever happened to the earlier ones; its latency is counted from that
due time, so a server that falls behind shows it (no coordinated omission). The generator's own CPU
share (process time / wall time) is reported: above ~70 % of a core it, not the server, may be the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

from server.access import sessions

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    done: float = 0.0  # completed requests per second
    generator_cpu: float = 0.0

    def p(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("inf")
        return statistics.quantiles(self.latencies_ms, n=100)[q - 1]

    def percentiles(self) -> str:
        return f"{self.p(50):.0f}/{self.p(95):.0f}/{self.p(99):.0f} ms"


def browser_cookie(token: str | None, csrf_cookie: str = "") -> dict[str, str]:
    """The Cookie header a browser sends: the session (if signed in) and the CSRF cookie (name=value) the app
    set on its first answer. Without the CSRF cookie every answer makes and sets a new one, a cost no browser's
    later requests have."""
    return {"cookie": "; ".join(c for c in (f"{sessions.COOKIE_NAME}={token}" if token else "", csrf_cookie) if c)}


async def fixed_rate(base: str, rate: float, seconds: float, items: list[tuple], csrf_cookie: str = "") -> LoadResult:
    """aiohttp, not httpx: httpx's connection pool scans every waiting request for every connection (O(n²)),
    so at 200/s with a slow server the generator itself used a whole core and the server stood idle.
    `csrf_cookie` (name=value): sent with every GET, as a browser sends the CSRF cookie it was given."""
    rng = random.Random(2)
    result = LoadResult()
    connector = aiohttp.TCPConnector(limit=256, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=base, connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as client:
        async def one(due: float, item: tuple) -> None:
            path, token, *form = item
            try:
                if form:
                    data, extra = form
                    async with client.post(path, data=data, headers=browser_cookie(token, extra),
                                           allow_redirects=False) as response:
                        await response.read()
                        ok = response.status in (200, 303)
                else:
                    async with client.get(path, headers=browser_cookie(token, csrf_cookie),
                                          allow_redirects=False) as response:
                        await response.read()
                        ok = response.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            if ok:
                result.latencies_ms.append((time.perf_counter() - due) * 1000)
            else:
                result.errors += 1

        count = int(rate * seconds)
        cpu0, t0 = time.process_time(), time.perf_counter()
        tasks = []
        for i in range(count):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, rng.choice(items))))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        result.generator_cpu = (time.process_time() - cpu0) / wall
        result.done = len(result.latencies_ms) / wall
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(settings, workers: int = 1, port: int | None = None, env: dict[str, str] | None = None):
    """`samhandling serve --workers N` on a free port; yields its base URL; stopped on exit."""
    with server_process(settings, workers, port, env) as (_process, base):
        yield base


@contextlib.contextmanager
def server_process(settings, workers: int = 1, port: int | None = None, env: dict[str, str] | None = None):
    """As `serving`, yielding (the process, its base URL): with one worker the process IS the server.

    A free port can be taken by another program before the server binds it (then /healthz may even be
    answered by that program): the server's exit is noticed and it starts again on another port."""
    for _attempt in range(3):
        process, base = _start(settings, workers, port, env)
        if process is not None:
            break
        port = None
    else:
        raise RuntimeError("the server did not start (three attempts)")
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(settings, workers: int, port: int | None, env: dict[str, str] | None):
    port = port or _free_port()
    env = os.environ | {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
                        "SAMHANDLING_VAR_DIR": str(settings.var_dir),
                        "PUBLIC_ORIGIN": f"http://localhost:{port}"} | (env or {})
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                                "--workers", str(workers)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    time.sleep(0.5 * workers)  # every worker up
    if process.poll() is not None:  # it never served: the port was taken (or it failed at start)
        error = process.stderr.read().decode()[-2000:]
        if "address already in use" not in error.lower():
            raise RuntimeError(error)
        return None, base
    return process, base
