"""Reading the passkey endpoints' JSON bodies with limits: size (413) and nesting depth (400).

A WebAuthn response is a few kilobytes, four levels deep; anything far beyond that is refused
before it is parsed (deep nesting would otherwise exhaust the parser's recursion: a 500).
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request

from server.i18n import N_

MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
TOO_LARGE = N_("The request was too large.")
UNREADABLE = N_("The request could not be read. Please try again.")


class BadBody(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Does the JSON text nest arrays/objects more than `limit` deep? (Strings are skipped.)"""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


async def read_json(request: Request, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The body as a JSON object, or BadBody (413 too large, 400 unreadable, too deep or not an object)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise BadBody(TOO_LARGE, 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BadBody(TOO_LARGE, 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if too_deep(raw):
        raise BadBody(UNREADABLE, 400)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadBody(UNREADABLE, 400) from exc
    if not isinstance(data, dict):
        raise BadBody(UNREADABLE, 400)
    return data
