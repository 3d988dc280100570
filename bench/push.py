"""Push throughput: 10 000 due reminders delivered by the worker to a local push endpoint on 127.0.0.1.

Run: `make bench-push` (SQLite in a temp dir) or `BENCH_DATABASE_URL=postgresql://… make bench-push`.
Reports messages per second end to end (claim → file in the patient's inbox → aes128gcm → HTTP POST over
reused connections → mark sent), and the crypto ceiling measured in the same run: the same per-message crypto
as the real path and nothing else — `push.encrypt` (ephemeral ECDH + HKDF + AES-GCM) and the VAPID header
from a `Pusher`, which signs a JWT per push service every `push.SIGN_EVERY` exactly as the worker does.
Goals: ≥ 1 000 msg/s and ≥ 50 % of the ceiling. The endpoint runs in its own process and only counts (the
tests' push service decrypts and verifies). The machine's load average is printed: the ratio is the figure
that survives a busy machine.

The worker's code path as it runs in production: `worker.run_rounds` (a pipeline of ROUNDS rounds of BATCH
rows, at most LANES held at a time, CONCURRENCY pushes in flight) with a `Pusher` on `http1.Client` (kept-alive
connections, at most CONNECTIONS to the endpoint), on the event loop `samhandling worker` runs (uvloop where
installed, as under `serve`). One thread: the encryption runs on the event loop, as in the worker, and the
ceiling is single-thread crypto.
The ceiling is timed between run_rounds calls (as many messages' worth as were delivered in the call), when
no round is in progress.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from server.access.models import Account  # noqa: E402
from server.app import settle_heap  # noqa: E402
from server.cli import db_upgrade, run_loop  # noqa: E402
from server.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from server.notify import http1, push, vapid  # noqa: E402
from server.notify.models import PushSubscription, Reminder  # noqa: E402
from server.notify.reminders import MSG_MEETING  # noqa: E402
from server.notify.worker import BATCH, CONCURRENCY, CONNECTIONS, LANES, ROUNDS, message_text, run_rounds  # noqa: E402
from server.seed import build_patient  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402
from tests.pushservice import Device, b64  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
DEVICES = 100
CEILING_SLICE = 200  # messages' worth of crypto timed before the run (and as many as delivered after each call)

# The stand-in push service: a bare asyncio HTTP/1.1 keep-alive server that reads each POST and answers 201.
# It shares the 2 cores with the worker, so it is kept as cheap as possible (the tests' push service is the
# one that verifies the VAPID JWT and decrypts).
ENDPOINT = r"""
import asyncio, sys

class Push(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")

async def main():
    server = await asyncio.get_running_loop().create_server(Push, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()

asyncio.run(main())
"""


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crypto_ceiling(key, devices: list[push.Device], subject: str, data: bytes, count: int) -> tuple[float, float]:
    """(seconds, CPU seconds) for `count` messages' worth of only what each message must compute, done exactly
    as the worker does it: the VAPID header (a Pusher signs one per push service and reuses it) and the
    encrypted body (a fresh ECDH key per message)."""
    signer = push.Pusher(None, key, subject)
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        device = devices[i % len(devices)]
        signer.signed_header(device.aud)
        push.encrypt(device, data)
    return time.perf_counter() - start, time.process_time() - start_cpu


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


async def arrange(maker, port: int) -> list[Device]:
    devices = [Device(f"/push/d{n}") for n in range(DEVICES)]
    async with maker() as db:
        patients = [build_patient(f"Bench {n}", 5, date(2026, 1, 5)) for n in range(DEVICES)]
        db.add_all(patients)
        await db.flush()
        accounts = [Account(role="patient", display_name=p.name, active=True, webauthn_user_id=os.urandom(32),
                            patient_id=p.id) for p in patients]
        db.add_all(accounts)
        await db.flush()
        db.add_all(PushSubscription(account_id=a.id, endpoint=f"http://127.0.0.1:{port}{d.path}", p256dh=d.p256dh,
                                    auth=b64(d.auth), label="") for a, d in zip(accounts, devices, strict=True))
        now = utcnow()
        await db.execute(insert(Reminder), [
            dict(recipient_id=accounts[i % DEVICES].id, patient_id=patients[i % DEVICES].id, kind="bench",
                 subject=f"b:{i}", due_at=now, urgent=True, message=MSG_MEETING,
                 params={"number": "1", "when": "2027-03-15T09:00:00+00:00"}, link="/meeting", status="pending",
                 attempts=0, claimed_by="", last_error="") for i in range(MESSAGES)])
        await db.commit()
    if maker.kw["bind"].dialect.name == "postgresql":
        # Planner statistics, as autovacuum gives a table that has lived a minute: without them PostgreSQL
        # guesses the 10 000 just-inserted reminders are a handful and sorts them all on every claim.
        async with maker() as db:
            await db.execute(text("ANALYZE reminders"))
            await db.commit()
    return devices


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    url = normalise_database_url(os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}")
    settings = Settings(database_url=url, secret_key="bench", var_dir=tmp)
    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(db_upgrade, settings)
    port = free_port()
    endpoint = subprocess.Popen([sys.executable, "-c", ENDPOINT, str(port)])
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    try:
        devices = await arrange(maker, port)
        key = vapid.load(settings)
        title, body = message_text(Reminder(message="x", params={}), detailed=False)
        sample = push.payload(title, body, "/inbox/123456", push.topic_for("bench", "b:1"))
        targets = [push.Device.of(n, f"http://127.0.0.1:{port}{d.path}", d.p256dh, b64(d.auth))
                   for n, d in enumerate(devices)]
        ceilings = [crypto_ceiling(key, targets, settings.vapid_subject, sample, CEILING_SLICE)]
        await asyncio.sleep(0.5)  # the endpoint is up by now
        load_before = loadavg()

        sent = 0
        async with http1.Client(limit_per_origin=CONNECTIONS) as http:  # as in worker.run_forever
            pusher = push.Pusher(http, key, settings.vapid_subject)
            send = pusher.send
            elapsed = cpu = 0.0
            while sent < MESSAGES:
                start, start_cpu = time.perf_counter(), time.process_time()
                # as the worker runs them: a pipeline of ROUNDS rounds of BATCH rows (see worker.run_rounds)
                stats = await run_rounds(maker, send, "bench")
                elapsed += time.perf_counter() - start
                cpu += time.process_time() - start_cpu
                if not (stats.sent or stats.retried):
                    raise SystemExit(f"stalled after {sent}: {stats}")
                sent += stats.sent
                # The ceiling is sampled between the calls (as many messages' worth as were just delivered), under
                # the same load as the rounds themselves; no round is in progress while it is timed.
                ceilings.append(crypto_ceiling(key, targets, settings.vapid_subject, sample, stats.sent))
        load_after = loadavg()
        counted = CEILING_SLICE + sent
        ceiling = counted / sum(wall for wall, _ in ceilings)
        crypto_cpu = sum(cpu for _, cpu in ceilings) / counted
        rate = sent / elapsed
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"push benchmark ({backend}, {MESSAGES} reminders, {DEVICES} devices, one endpoint on 127.0.0.1)")
        print(f"  delivered        {sent} in {elapsed:.2f} s = {rate:,.0f} msg/s   (goal >= 1 000)")
        print(f"  as the worker    a pipeline of rounds of {BATCH} rows, at most {LANES} held, {CONCURRENCY} sends in "
              f"flight, {ROUNDS} rounds per call; one thread (the crypto runs on the event loop), "
              f"{type(asyncio.get_running_loop()).__module__.split('.')[0]}")
        print(f"  crypto ceiling   {ceiling:,.0f} msg/s (encryption + VAPID header as the worker does them, only; "
              f"timed between the calls: {counted} messages)")
        print(f"  CPU per message  {cpu / sent * 1e6:.0f} µs in the worker process, {crypto_cpu * 1e6:.0f} µs of it "
              f"the crypto = {crypto_cpu / (cpu / sent):.0%} (≈ the ratio when the worker has a core to itself)")
        print(f"  ratio            {rate / ceiling:.0%} of the ceiling   (goal >= 50 %)")
        print(f"  VAPID signatures {pusher.signatures} for {sent} messages (one per push service per "
              f"{push.SIGN_EVERY // 60} min)")
        print(f"  load average     {load_before} before, {load_after} after (2 cores; other work on the machine "
              "lowers both figures)")
    finally:
        await engine.dispose()
        endpoint.terminate()
        endpoint.wait(10)


if __name__ == "__main__":
    settle_heap()  # as `samhandling worker` does before its loop starts
    run_loop(main())  # the loop `samhandling worker` and `serve` run on (uvloop where installed)
