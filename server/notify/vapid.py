"""The server's VAPID key pair: VAPID_PRIVATE_KEY if set, else var/vapid_private.pem (created on first run)."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02 as Vapid

from server.settings import Settings

KEY_FILE = "vapid_private.pem"


def load(settings: Settings) -> Vapid:
    if settings.vapid_private_key:
        value = settings.vapid_private_key.strip()
        if value.startswith("-----BEGIN"):
            return Vapid.from_pem(value.encode())
        return Vapid.from_string(value)
    path = settings.var_dir / KEY_FILE
    if not path.exists():
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        vapid = Vapid()
        vapid.generate_keys()
        pem = vapid.private_pem()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another instance made it first: use theirs
            return Vapid.from_file(str(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return vapid
    return Vapid.from_file(str(path))


def public_key(vapid: Vapid) -> str:
    """The applicationServerKey the page passes to PushManager.subscribe (base64url, uncompressed point)."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
