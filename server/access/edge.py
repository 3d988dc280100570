"""Where a request enters the app, before routing: the real client behind trusted proxies, and HEAD.

Installed around Litestar's ASGI handler by create_app, so every response (a 404 too) sees the
rewritten scope: rate limits, HSTS (scope scheme) and logs all use the real client.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

from litestar.types import ASGIApp, Message, Receive, Scope, Send

Address = IPv4Address | IPv6Address


def _address(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def _forwarded(headers: list[tuple[bytes, bytes]]) -> tuple[list[str], str | None] | None:
    """(for= addresses, last proto=) from RFC 7239 Forwarded headers, or None without any."""
    values = [v.decode("latin-1") for k, v in headers if k == b"forwarded"]
    if not values:
        return None
    hops, proto = [], None
    for element in ",".join(values).split(","):
        pairs = dict(part.strip().split("=", 1) for part in element.split(";") if "=" in part)
        pairs = {key.strip().lower(): value.strip().strip('"') for key, value in pairs.items()}
        hops.append(pairs.get("for", ""))
        proto = pairs.get("proto", proto)
    return hops, proto


def _x_forwarded(headers: list[tuple[bytes, bytes]]) -> tuple[list[str], str | None]:
    hops = [hop for k, v in headers if k == b"x-forwarded-for" for hop in v.decode("latin-1").split(",")]
    protos = [p.strip() for k, v in headers if k == b"x-forwarded-proto" for p in v.decode("latin-1").split(",")]
    return hops, (protos[-1] if protos else None)


def real_client(peer: str, headers: list[tuple[bytes, bytes]], trusted) -> tuple[str, str | None]:
    """(client address, scheme or None) for a request that arrived from `peer`.

    Forwarded headers count only when the peer is a trusted proxy; the chain is read from the
    right (nearest hop) and the first address that is not a trusted proxy is the client, so a
    client cannot put a false address in front of the proxy's."""
    peer_address = _address(peer)
    if not trusted or peer_address is None or not any(peer_address in net for net in trusted):
        return peer, None
    hops, proto = _forwarded(headers) or _x_forwarded(headers)
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # an unreadable hop: keep the last trusted address we read
        client = str(address)
        if not any(address in net for net in trusted):
            break
    proto = proto.lower() if proto else None
    return client, proto if proto in ("http", "https") else None


def edge_middleware(app: ASGIApp, trusted) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        peer = (scope.get("client") or ("", 0))[0]
        client, scheme = real_client(peer, list(scope.get("headers", [])), trusted)
        if client != peer:
            scope["client"] = (client, 0)
        if scheme:
            scope["scheme"] = scheme
        if scope["method"] != "HEAD":
            await app(scope, receive, send)
            return
        # HEAD is answered as GET without the body: every GET route answers HEAD, none needs to say so.
        scope["method"] = "GET"

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app(scope, receive, send_without_body)

    return middleware
