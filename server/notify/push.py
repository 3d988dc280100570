"""Sending Web Push messages: VAPID (RFC 8292), aes128gcm (RFC 8291) over kept-alive connections.

A `Pusher` belongs to one worker. Per message it encrypts the payload for the device (a fresh ephemeral key:
ECDH + HKDF + AES-GCM, by pywebpush's `WebPusher.encode`) and POSTs it with an explicit timeout and TTL
(pywebpush's defaults are none and 0), `Urgency`, and a `Topic` per reminder so that a resend replaces
the earlier message on the phone. The VAPID `Authorization` header is signed per push-service origin
(`aud`) from a fresh claims dict and reused for `SIGN_EVERY`; its JWT expires `VAPID_VALID_FOR` after
signing (RFC 8292 allows at most 24 h), far beyond the reuse, so every header sent is a valid JWT.
Signing a JWT per message cost as much as the encryption (see bench/push.py).

The POST goes through server/notify/http1.py, our own small HTTP/1.1 client (a pool of keep-alive
connections per push service): aiohttp's request machinery cost about a third of the encryption again
per message. A timeout, a refused or dropped connection or a malformed answer is a retry, as 429 and 5xx are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pywebpush import WebPusher, WebPushException

from server.i18n import N_
from server.notify import http1

TTL_SECONDS = 24 * 3600
TIMEOUT_SECONDS = 10.0
SIGN_EVERY = 10 * 60  # seconds a signed VAPID header is reused for one push service
VAPID_VALID_FOR = 12 * 3600  # the JWT's exp, counted from signing (≤ 24 h)
DISCREET_TITLE = "Samhandling"
DISCREET_BODY = N_("You have a new message in Samhandling")


@dataclass(frozen=True)
class Outcome:
    kind: str  # ok | gone (404/410: delete the subscription) | retry (429/5xx/timeout) | error (other 4xx)
    status: int | None = None
    detail: str = ""


def topic_for(kind: str, subject: str) -> str:
    """At most 32 URL-safe base64 characters, the same for every resend of one reminder."""
    digest = hashlib.sha256(f"{kind}|{subject}".encode()).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()  # 24 characters, no padding


def payload(title: str, body: str, url: str, tag: str) -> bytes:
    return json.dumps({"title": title, "body": body, "url": url, "tag": tag}, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Device:
    """A push subscription as the sender needs it: where to POST, and pywebpush's encoder for its keys
    (built once per device: pywebpush copies and decodes the subscription when the encoder is made)."""

    id: int
    endpoint: str
    encoder: WebPusher
    target: http1.Target  # the endpoint parsed for the HTTP client
    aud: str  # the VAPID audience: the push service's origin

    @classmethod
    def of(cls, id_: int, endpoint: str, p256dh: str, auth: str) -> "Device":
        """From the stored subscription (base64url keys, as PushSubscription.toJSON() gives them).
        ValueError if the endpoint is not an http(s) URL or the keys do not decode."""
        try:
            encoder = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
        except (WebPushException, ValueError, IndexError, TypeError) as error:  # pywebpush's ways to refuse keys
            raise ValueError(f"unusable subscription keys: {type(error).__name__}") from None
        return cls(id_, endpoint, encoder, http1.Target.of(endpoint), origin_of(endpoint))


def origin_of(endpoint: str) -> str:
    """The VAPID `aud`: scheme, host and port of the push service."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def encrypt(device: Device, data: bytes) -> bytes:
    """The aes128gcm body (RFC 8291) for one device, by pywebpush: a fresh ephemeral P-256 key, ECDH with the
    device's key, HKDF with its auth secret and a random salt, AES-128-GCM."""
    return device.encoder.encode(data, content_encoding="aes128gcm")["body"]


def outcome_of(status: int) -> Outcome:
    if 200 <= status <= 202:
        return Outcome("ok", status)
    if status in (404, 410):
        return Outcome("gone", status)
    if status == 429 or status >= 500:
        return Outcome("retry", status, f"HTTP {status}")
    return Outcome("error", status, f"HTTP {status}")


class Pusher:
    """One worker's sender: the HTTP client (connection reuse), the VAPID key and its signed headers."""

    def __init__(self, http: http1.Client, vapid, subject: str, *, ttl: int = TTL_SECONDS,
                 timeout: float = TIMEOUT_SECONDS, sign_every: float = SIGN_EVERY,
                 valid_for: int = VAPID_VALID_FOR, clock: Callable[[], float] = time.time) -> None:
        if not 0 < sign_every < valid_for <= 24 * 3600:
            raise ValueError("a VAPID header must be reused for less time than it is valid (at most 24 h)")
        self.http, self.vapid, self.subject = http, vapid, subject
        self.ttl, self.timeout = str(ttl), timeout
        self.sign_every, self.valid_for, self.clock = sign_every, valid_for, clock
        self.signed: dict[str, tuple[float, str]] = {}  # origin -> (signed at, Authorization header)
        self.signatures = 0

    def authorization(self, endpoint: str) -> str:
        """The VAPID header for this endpoint's push service, signed again once it is SIGN_EVERY old."""
        return self.signed_header(origin_of(endpoint))

    def signed_header(self, aud: str) -> str:
        """The same for a push service's origin (`Device.aud`), as `send` asks for it."""
        now = self.clock()
        cached = self.signed.get(aud)
        if cached and now - cached[0] < self.sign_every:
            return cached[1]
        claims = {"sub": self.subject, "aud": aud, "exp": int(now) + self.valid_for}  # a fresh dict every time
        header = self.vapid.sign(claims)["Authorization"]
        self.signed[aud] = (now, header)
        self.signatures += 1
        return header

    async def send(self, device: Device, data: bytes, *, topic: str, urgent: bool = False) -> Outcome:
        headers = {"Authorization": self.signed_header(device.aud), "TTL": self.ttl,
                   "Urgency": "high" if urgent else "normal", "Topic": topic,
                   "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream"}
        body = encrypt(device, data)
        try:
            status = (await self.http.post(device.target, body, headers, timeout=self.timeout)).status
        except (TimeoutError, OSError, http1.ProtocolError) as error:
            return Outcome("retry", None, type(error).__name__)
        if status in (401, 403):  # the push service refused our VAPID header: sign a new one next time
            self.signed.pop(device.aud, None)
        return outcome_of(status)
