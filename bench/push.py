"""Push throughput: 10 000 due reminders delivered by the worker to a local push endpoint on 127.0.0.1.

Run: `make bench-push` (SQLite in a temp dir) or `BENCH_DATABASE_URL=postgresql://… make bench-push`.
Reports messages per second end to end (claim → VAPID + aes128gcm → HTTP POST over reused connections →
mark sent), and the bare crypto ceiling measured in the same run (VAPID signature with a fresh claims dict +
payload encryption, per message, nothing else). Goals: ≥ 1 000 msg/s and ≥ 50 % of the ceiling.
The endpoint runs in its own process and only counts (the tests' push service decrypts and verifies).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from pywebpush import WebPusher  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from server.access.models import Account  # noqa: E402
from server.cli import db_upgrade  # noqa: E402
from server.db import make_engine, make_sessionmaker, utcnow  # noqa: E402
from server.notify import push, vapid  # noqa: E402
from server.notify.models import PushSubscription, Reminder  # noqa: E402
from server.notify.worker import message_text, run_batch  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402
from tests.pushservice import Device, b64  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
DEVICES = 100
CEILING_SAMPLE = 2000

ENDPOINT = """
import sys
from aiohttp import web
count = 0
async def handle(request):
    global count
    await request.read()
    count += 1
    return web.Response(status=201)
app = web.Application()
app.router.add_post("/push/{name}", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crypto_ceiling(key, devices: list[Device], subject: str, data: bytes) -> float:
    """Messages/s for only what each message must compute: the VAPID header and the encrypted body."""
    start = time.perf_counter()
    for i in range(CEILING_SAMPLE):
        device = devices[i % len(devices)]
        claims = {"sub": subject, "aud": "http://127.0.0.1", "exp": int(time.time()) + 12 * 3600}
        key.sign(claims)
        info = push.subscription_info("http://127.0.0.1/push/x", device.p256dh, b64(device.auth))
        WebPusher(info).encode(data, "aes128gcm")
    return CEILING_SAMPLE / (time.perf_counter() - start)


async def arrange(maker, port: int) -> list[Device]:
    devices = [Device(f"/push/d{n}") for n in range(DEVICES)]
    async with maker() as db:
        accounts = [Account(role="patient", display_name=f"Bench {n}", active=True, webauthn_user_id=os.urandom(32))
                    for n in range(DEVICES)]
        db.add_all(accounts)
        await db.flush()
        db.add_all(PushSubscription(account_id=a.id, endpoint=f"http://127.0.0.1:{port}{d.path}", p256dh=d.p256dh,
                                    auth=b64(d.auth), label="") for a, d in zip(accounts, devices))
        now = utcnow()
        await db.execute(insert(Reminder), [
            dict(recipient_id=accounts[i % DEVICES].id, patient_id=None, kind="bench", subject=f"b:{i}", due_at=now,
                 urgent=True, message="x", params={}, link=f"/r/{i}", status="pending", attempts=0, claimed_by="",
                 last_error="") for i in range(MESSAGES)])
        await db.commit()
    return devices


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    url = normalise_database_url(os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}")
    settings = Settings(database_url=url, secret_key="bench", var_dir=tmp)
    if url.startswith("postgresql"):
        engine = make_engine(url)
        async with engine.begin() as conn:
            from sqlalchemy import text
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
        ceiling = crypto_ceiling(key, devices, settings.vapid_subject, sample)
        await asyncio.sleep(0.5)  # the endpoint is up by now

        sent = 0
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as http:
            async def send(info, data, *, topic, urgent):
                return await push.send(http, key, settings.vapid_subject, info, data, topic=topic, urgent=urgent)

            start = time.perf_counter()
            while sent < MESSAGES:
                stats = await run_batch(maker, send, "bench", limit=1000, concurrency=64)
                if not (stats.sent or stats.retried):
                    raise SystemExit(f"stalled after {sent}: {stats}")
                sent += stats.sent
            elapsed = time.perf_counter() - start
        rate = sent / elapsed
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"push benchmark ({backend}, {MESSAGES} reminders, {DEVICES} devices, one endpoint on 127.0.0.1)")
        print(f"  delivered        {sent} in {elapsed:.2f} s = {rate:,.0f} msg/s   (goal >= 1 000)")
        print(f"  crypto ceiling   {ceiling:,.0f} msg/s (VAPID sign + aes128gcm encrypt only, same run)")
        print(f"  ratio            {rate / ceiling:.0%} of the ceiling   (goal >= 50 %)")
    finally:
        await engine.dispose()
        endpoint.terminate()
        endpoint.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
