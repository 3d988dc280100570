"""Sending one Web Push message (pywebpush over a shared aiohttp session) and reading the answer.

Every call carries an explicit timeout and TTL (pywebpush's defaults are none and 0), Urgency, and a
Topic per reminder so that a resend replaces the earlier message on the phone. pywebpush writes
`aud`/`exp` into the claims dict it is given: each call gets a fresh one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass

import aiohttp
from pywebpush import WebPushException, webpush_async

from server.i18n import N_

TTL_SECONDS = 24 * 3600
TIMEOUT_SECONDS = 10.0
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


def subscription_info(endpoint: str, p256dh: str, auth: str) -> dict:
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}


async def send(http: aiohttp.ClientSession, vapid, subject: str, info: dict, data: bytes, *, topic: str,
               urgent: bool = False, ttl: int = TTL_SECONDS, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    claims = {"sub": subject}  # fresh per call: pywebpush adds aud and exp to it
    headers = {"Urgency": "high" if urgent else "normal", "Topic": topic}
    try:
        response = await webpush_async(info, data=data, vapid_private_key=vapid, vapid_claims=claims, ttl=ttl,
                                       timeout=aiohttp.ClientTimeout(total=timeout), headers=headers,
                                       aiohttp_session=http)
        return Outcome("ok", response.status)
    except WebPushException as error:
        status = error.status_code
        if status in (404, 410):
            return Outcome("gone", status)
        if status == 429 or (status is not None and status >= 500):
            return Outcome("retry", status, f"HTTP {status}")
        return Outcome("error", status, f"HTTP {status}")
    except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as error:
        return Outcome("retry", None, type(error).__name__)
