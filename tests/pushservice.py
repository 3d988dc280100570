"""A local Web Push service on 127.0.0.1 for tests and the benchmark.

It checks every request's VAPID JWT (the signature against the server's public key, `aud` = this service's
origin, `exp` ahead and at most 24 h away), decrypts the aes128gcm body with the subscription's private key
and auth secret (http_ece), and records the plaintext and headers. `answers` maps a subscription path to a
list of statuses to give (then 201).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """What a browser makes when it subscribes: an EC key pair and an auth secret."""

    path: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64(self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint))


@dataclass
class Received:
    path: str
    headers: dict
    claims: dict
    plaintext: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.plaintext)


class PushService:
    def __init__(self, server_public_key: str, decrypt: bool = True, delay: float = 0.0) -> None:
        self.server_public_key = server_public_key
        self.decrypt = decrypt
        self.delay = delay
        self.devices: dict[str, Device] = {}
        self.answers: dict[str, list[int]] = {}
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.port = 0

    def device(self, name: str) -> Device:
        device = Device(f"/push/{name}")
        self.devices[device.path] = device
        return device

    def endpoint(self, device: Device) -> str:
        return f"http://127.0.0.1:{self.port}{device.path}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            queue = self.answers.get(path)
            status = queue.pop(0) if queue else 201
        if self.delay:
            await asyncio.sleep(self.delay)
        if status != 201:
            headers = {"Retry-After": "1"} if status == 429 else {}
            return web.Response(status=status, headers=headers)
        auth = request.headers.get("authorization", "")
        _, _, params = auth.partition(" ")
        parts = dict(item.split("=", 1) for item in params.split(",") if "=" in item)
        claims = self.valid_claims(auth, parts, f"http://{request.host}")
        if claims is None:
            with self.lock:
                self.refused.append(path)
            return web.Response(status=401)
        plaintext = b""
        if self.decrypt:
            device = self.devices[path]
            plaintext = http_ece.decrypt(body, private_key=device.key, auth_secret=device.auth, version="aes128gcm")
        with self.lock:
            self.received.append(Received(path, {k.lower(): v for k, v in request.headers.items()}, claims, plaintext))
        return web.Response(status=201)

    def valid_claims(self, auth: str, parts: dict, origin: str) -> dict | None:
        """RFC 8292: our key, a valid ES256 signature, aud = this service's origin, exp ahead and ≤ 24 h away."""
        if not auth.startswith("vapid ") or parts.get("k") != self.server_public_key or "t" not in parts:
            return None
        try:
            if not Vapid02.verify(auth):
                return None
            claims = json.loads(unb64(parts["t"].split(".")[1]))
        except (ValueError, AssertionError):
            return None
        now = time.time()
        if claims.get("aud") != origin or not now < claims.get("exp", 0) <= now + 24 * 3600:
            return None
        return claims

    def start(self) -> "PushService":
        ready = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            app = web.Application()
            app.router.add_post("/push/{name}", self.handle)
            self.runner = web.AppRunner(app, access_log=None)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        async def close():
            await self.runner.cleanup()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
