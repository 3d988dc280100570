"""`make bench`: throughput per core as RATIOS measured in one run, and latency under a fixed arrival rate.

For each backend (SQLite always; PostgreSQL when BENCH_PG_URL is set, e.g.
postgresql://postgres@127.0.0.1:5432/perf_bench — the database is emptied and refilled):
  1. fill a fresh database (bench/fill.py): 10,000 patients, 1,000,000 chained audit events (x BENCH_SCALE);
  2. ceiling ratio, in-process: CPU seconds (time.process_time, all threads of this process: the app and
     its SQLite thread; PostgreSQL's own backend CPU is not counted) per request of each patient page vs
     the SAME template rendered from a constant context (captured from a real request) through the same
     app and middleware, page and ceiling in alternating blocks, each request with the cookies a browser
     sends (the session, the CSRF cookie). ratio = ceiling CPU / page CPU. Target >= 35 %, i.e. about 2.5 ms
     CPU per page;
  3. against a real server (`samhandling serve --workers N`): fixed-rate mixed patient load (home, meeting,
     plan, inbox at random for random patients) after BENCH_WARMUP seconds of the same load (reported apart),
     clinic worklist + patient list at a fixed rate, and
     patients updating a measure with concurrent reads. Latency is measured from each request's SCHEDULED
     start (no coordinated omission); the generator reports its own CPU share.
Timings on a shared machine are noisy; the ratios are the figures to compare. Never part of `make test`.
BENCH_PARTS=ratios runs step 2 alone (with BENCH_SCALE=0.1: a quick before/after of CPU per page).
Each backend runs in a process of its own (BENCH_BACKENDS=sqlite or postgresql runs one, in this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import jinja2  # noqa: E402
from litestar import Request, Response, get  # noqa: E402

from bench.fill import fill, reset_postgresql  # noqa: E402
from bench.load import LoadResult, browser_cookie, fixed_rate, serving  # noqa: E402
from server.access import sessions  # noqa: E402
from server.access.policy import PUBLIC, policy  # noqa: E402
from server.app import create_app, settle_heap, warm  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
PATIENTS = max(200, int(10_000 * SCALE))
AUDIT_ROWS = max(10_000, int(1_000_000 * SCALE))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "3"))  # seconds of the fixed-rate patient load not counted
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
PARTS = os.environ.get("BENCH_PARTS", "all")  # "ratios": only the in-process ceiling ratios (step 2)
PAGES = ("/home", "/meeting", "/plan", "/inbox")
CLINIC = ("/clinic/worklist", "/clinic/patients", "/clinic/patients?q=olsen", "/clinic/patients?stage_filter=4",
          "/clinic/patients?page=20", "/clinic/patients?q=ingrid&stage_filter=7")
_captured: dict[str, dict] = {}  # template -> the context of its first render in the request being captured
_contexts: dict[str, list[tuple[str, dict]]] = {}  # page -> (template, context) per request of the measured mix
_original_render = jinja2.Template.render


def _capturing_render(self, *args, **kwargs):
    if self.name not in _captured:
        _captured[self.name] = dict(*args, **kwargs)
    return _original_render(self, *args, **kwargs)


@get("/_bench/ceiling", opt=policy(PUBLIC))
async def ceiling(request: Request, p: str, i: int = 0) -> Response:
    """The page's own template from a constant context (the i-th captured one): everything but the data work."""
    template, context = _contexts[p][i]
    html = request.app.template_engine.engine.get_template(template).render(context)
    return Response(html, media_type="text/html", headers={"Vary": "HX-Request", "Cache-Control": "no-store"})


async def ceiling_ratios(settings: Settings, tokens: list[str]) -> dict[str, tuple[float, float]]:
    """{page: (ms CPU per page, ms CPU per ceiling request)}.

    The page is requested for ROUNDS patients in turn; the ceiling renders the same template from the context
    each of those requests rendered (captured once beforehand), in the same turn: a patient with a meeting
    and a plan has a longer page than one without, and that rendering is the ceiling's as much as the
    page's. (Until round 3 one patient's context stood for all, so the ratio depended on who came first.)"""
    app = create_app(settings)
    app.register(ceiling)
    warm(app)  # as `samhandling serve` does once its app is built
    settle_heap()
    out = {}
    async with in_process(app) as client:
        for page in PAGES:
            requests = [(page, tokens[i % len(tokens)]) for i in range(ROUNDS)]
            _contexts[page] = []  # this database's requests only (main runs SQLite, then PostgreSQL)
            jinja2.Template.render = _capturing_render
            try:
                for path, token in requests:
                    _captured.clear()
                    response = await client.get(path, headers={"cookie": f"{sessions.COOKIE_NAME}={token}"})
                    assert response.status_code == 200, (path, response.status_code)
                    template = next(name for name in _captured if not name.startswith("_"))
                    _contexts[page].append((template, _captured[template]))
            finally:
                jinja2.Template.render = _original_render
            # the CSRF cookie the first of those answers set, kept as a browser keeps it
            name = app.csrf_config.cookie_name
            csrf_cookie = f"{name}={client.cookies[name]}"
            cpu = await _cpu_per_request(client, {
                "page": requests, "ceiling": [(f"/_bench/ceiling?p={page}&i={i}", None) for i in range(len(requests))]},
                csrf_cookie)
            out[page] = (cpu["page"], cpu["ceiling"])
    return out


@contextlib.asynccontextmanager
async def in_process(app):
    """An httpx client calling the app in this thread and event loop (no test-client thread hand-off,
    whose wake-ups would add the same constant to page and ceiling); the app's start-up and shut-down run."""
    for hook in app.on_startup:
        await hook(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bench.local") as client:
            yield client
    finally:
        for hook in app.on_shutdown:
            await hook(app)


async def _cpu_per_request(client, kinds: dict[str, list[tuple[str, str | None]]], csrf_cookie: str,
                           blocks: int = 5) -> dict[str, float]:
    """CPU per request of each kind (the page, its ceiling), measured in alternating blocks: CPU per request
    on this VM drifts by +-15 % over seconds, and page and ceiling should meet the same drift."""
    for requests in kinds.values():
        for path, token in requests[:10]:  # warm up
            await client.get(path, headers=browser_cookie(token, csrf_cookie))
    spent = dict.fromkeys(kinds, 0.0)
    for block in range(blocks):
        for kind, requests in kinds.items():
            part = requests[block::blocks]
            started = time.process_time()
            for path, token in part:
                response = await client.get(path, headers=browser_cookie(token, csrf_cookie))
                assert response.status_code == 200, (path, response.status_code)
                assert "set-cookie" not in response.headers, (path, "the request should carry its cookies")
            spent[kind] += time.process_time() - started
    return {kind: spent[kind] * 1000 / len(requests) for kind, requests in kinds.items()}


async def csrf_pair(base: str, token: str) -> tuple[str, str]:
    import re

    async with httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/plan", headers={"cookie": f"{sessions.COOKIE_NAME}={token}"})
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        cookie = page.headers["set-cookie"].split(";")[0]
    return csrf, cookie


async def server_loads(settings: Settings, fixture, workers: int, rates: dict[str, float]) -> dict[str, LoadResult]:
    out = {}
    with serving(settings, workers) as base:
        csrf, cookie = await csrf_pair(base, fixture.patient_tokens[0])  # cookie: the CSRF cookie, sent with every GET
        patient = [(page, token) for token in fixture.patient_tokens for page in PAGES]
        # A fresh server's first seconds (its connections to the database and from the generator opened, each
        # statement compiled and prepared once per process), reported on their own: the targets are for a
        # server that has been up for more than WARMUP seconds.
        out["warmup"] = await fixed_rate(base, rates["patient"], WARMUP, patient, cookie)
        out["patient"] = await fixed_rate(base, rates["patient"], SECONDS, patient, cookie)
        clinic = [(path, fixture.clinician_token) for path in CLINIC]
        out["clinic"] = await fixed_rate(base, rates["clinic"], SECONDS, clinic, cookie)
        statuses = ("in_progress", "done", "planned")
        writes = [("/plan/measures/m-walk/status", token, {"status": statuses[i % 3], "_csrf_token": csrf}, cookie)
                  for i in range(3) for token in fixture.patient_tokens]
        reads = fixed_rate(base, 20, SECONDS, patient, cookie)
        write = fixed_rate(base, rates["write"], SECONDS, writes)
        out["write_reads"], out["write"] = await asyncio.gather(reads, write)
    return out


def _row(label: str, figure: str, target: str, met: bool | None) -> str:
    mark = "" if met is None else ("met" if met else "MISSED")
    return f"  {label:<52} {figure:>22}   {target:<26} {mark}"


def _ratio_rows(ratios) -> list[str]:
    lines = []
    for page, (page_cpu, ceil_cpu) in ratios.items():
        ratio = ceil_cpu / page_cpu
        lines.append(_row(f"{page}: ceiling ratio (CPU {page_cpu:.2f} vs {ceil_cpu:.2f} ms)", f"{ratio:.0%}",
                          ">= 35 %", ratio >= 0.35))
    return lines


def report_ratios(backend: str, ratios) -> list[str]:
    """BENCH_PARTS=ratios: the in-process ceiling ratios alone (no server, no fixed-rate load)."""
    return [f"{backend}, in-process  ({PATIENTS} patients, {AUDIT_ROWS} audit rows; load average "
            f"{open('/proc/loadavg').read().strip()})", *_ratio_rows(ratios)]


def report(backend: str, workers: int, ratios, loads, rates) -> list[str]:
    lines = [f"{backend}, {workers} process(es)  ({PATIENTS} patients, {AUDIT_ROWS} audit rows)"]
    lines += _ratio_rows(ratios)
    p, w0 = loads["patient"], loads["warmup"]
    lines.append(_row(f"mixed patient pages at {rates['patient']:.0f}/s offered ({p.done:.0f}/s done)",
                      p.percentiles(), "p95 < 50 ms", p.p(95) < 50 and not p.errors))
    lines.append(_row(f"  before it: a fresh server's first {WARMUP:.0f} s (not counted)", w0.percentiles(), "", None))
    c = loads["clinic"]
    lines.append(_row(f"worklist + patient list at {rates['clinic']:.0f}/s", c.percentiles(), "p95 < 50 ms",
                      c.p(95) < 50 and not c.errors))
    w, r = loads["write"], loads["write_reads"]
    sqlite = backend == "sqlite"
    lines.append(_row(f"measure updates at {rates['write']:.0f}/s offered ({w.done:.0f}/s done)", w.percentiles(),
                      ">= 100/s (SQLite)" if sqlite else "", w.done >= 95 if sqlite else None))
    lines.append(_row("  reads at 20/s meanwhile", r.percentiles(), "p95 < 100 ms", r.p(95) < 100 and not r.errors))
    errors = sum(x.errors for x in loads.values())
    generator = max(x.generator_cpu for x in loads.values())
    lines.append(f"  errors: {errors};  load generator CPU at most {generator:.0%} of one core")
    return lines


def run_backend(backend: str, url: str, tmp: Path) -> list[str]:
    settings = Settings(database_url=normalise_database_url(url), secret_key="bench-secret", var_dir=tmp)
    if backend == "postgresql":
        asyncio.run(reset_postgresql(settings.database_url))
    db_upgrade(settings)
    started = time.perf_counter()
    fixture = asyncio.run(fill(settings.database_url, PATIENTS, AUDIT_ROWS, min(200, PATIENTS)))
    load = open("/proc/loadavg").read().strip()
    print(f"{backend}: filled in {time.perf_counter() - started:.1f} s; load average {load}", flush=True)
    ratios = asyncio.run(ceiling_ratios(settings, fixture.patient_tokens))
    if PARTS == "ratios":
        return report_ratios(backend, ratios)
    workers = int(os.environ.get("BENCH_WORKERS", "2" if backend == "postgresql" else "1"))
    rates = {"patient": float(os.environ.get("BENCH_RATE", "200" if backend == "postgresql" else "100")),
             "clinic": 10.0, "write": float(os.environ.get("BENCH_WRITE_RATE", "100"))}
    loads = asyncio.run(server_loads(settings, fixture, workers, rates))
    return report(backend, workers, ratios, loads, rates)


def _backend_in_own_process(backend: str) -> list[str]:
    """Run one backend's part in a fresh process and return its table rows: measured after the other
    backend in the same process, PostgreSQL's /home cost 10-15 % more CPU than in a process of its own
    (docs/performance.md, round 6), and a serving process never ran the other database first."""
    with tempfile.NamedTemporaryFile(suffix=".rows") as rows:
        env = os.environ | {"BENCH_BACKENDS": backend, "BENCH_ROWS_FILE": rows.name}
        subprocess.run([sys.executable, __file__], env=env, check=True)
        return Path(rows.name).read_text().splitlines()


def main() -> int:
    import logging
    logging.getLogger("httpx").setLevel(logging.WARNING)
    backends = [b for b in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
                if b == "sqlite" or (b == "postgresql" and os.environ.get("BENCH_PG_URL"))]
    table = []
    if len(backends) > 1:
        for backend in backends:
            table += _backend_in_own_process(backend)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for backend in backends:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db" if backend == "sqlite" else os.environ["BENCH_PG_URL"]
                table += run_backend(backend, url, Path(tmp))
        if os.environ.get("BENCH_ROWS_FILE"):  # a child of _backend_in_own_process: the parent prints the table
            Path(os.environ["BENCH_ROWS_FILE"]).write_text("\n".join(table))
            return 0
    print("\n".join(["", f"{'figure':<54} {'measured':>22}   {'target':<26}", *table]))
    print(f"load average at the end: {open('/proc/loadavg').read().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
