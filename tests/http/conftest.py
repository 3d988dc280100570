"""Fixtures shared by the HTTP tests of push: the local push service (tests/pushservice.py)."""

from __future__ import annotations

import pytest

from server.notify import vapid
from tests.pushservice import PushService


@pytest.fixture
def service(settings):
    """A local Web Push service on 127.0.0.1 that verifies the app's VAPID JWTs and decrypts what it receives."""
    running = PushService(vapid.public_key(vapid.load(settings))).start()
    yield running
    running.stop()
