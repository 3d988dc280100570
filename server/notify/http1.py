"""A minimal asyncio HTTP/1.1 client with keep-alive connections, for the push sender.

Why our own: per message the worker does ~280 µs of unavoidable crypto; aiohttp's request machinery cost about a
third as much again (see bench/push.py). This client does one thing: send a request with a body on a reused
connection and read the status, the headers and the (discarded) body.

- A pool per origin (scheme, host, port): idle connections are reused, at most `limit_per_origin` are open;
  a request that finds none idle and the pool full waits for one. Idle connections older than `idle_for`
  are closed instead of reused.
- https through `loop.create_connection(ssl=context, server_hostname=host)`; the default context verifies the
  certificate and host name (`ssl.create_default_context()`), a test passes its own.
- One request is one write: request line, Host, the caller's headers, Content-Length, body. The writes of the
  requests started in one turn of the event loop go out together at its end (`Client._flush`), one after
  the other, instead of each as soon as its request is made. The worker starts a request right after
  encrypting its message, so without this a send went out every ~130 µs, and on the loopback each one paid
  for waking the idle receiver: ~30 µs of the sender's CPU per message, against ~11 µs when written together
  (bench/push.py). A request whose connection fails or is cancelled before the flush is not written.
- The response: status line and headers; the body is read and discarded whether framed by Content-Length,
  chunked, or the end of the connection. `Connection: close` (or HTTP/1.0 without keep-alive) closes the
  connection after the response.
- A timeout per request (waiting for a connection included): a connection that timed out is closed, never
  reused. If a reused connection fails before any byte of the response arrived (the server closed an idle
  connection as we wrote), the request is sent once more on a fresh connection.

Errors: `TimeoutError`, `OSError` (`ConnectionError`, `ssl.SSLError`, refused …) and `ProtocolError` (a
response that is not HTTP/1.x).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # bytes of status line and headers
IDLE_FOR = 30.0  # seconds an idle connection is kept for reuse (servers close theirs after some time too)
NO_BODY = frozenset((204, 304))


class ProtocolError(Exception):
    """The server's answer is not a well-formed HTTP/1.x response."""


class _Stale(ConnectionError):
    """A reused connection closed before any byte of the response: the request may be sent again."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes, parsed once: the pool's key, the Host header and the request target."""

    key: tuple[str, str, int]  # (scheme, host, port)
    host_header: str
    path: str

    @classmethod
    def of(cls, url: str) -> "Target":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == default else f"{shown}:{port}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for text in (host_header, path):
            if any(c in text for c in "\r\n \t"):
                raise ValueError(f"not a valid request target: {url!r}")
        return cls((parts.scheme, host, port), host_header, path)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value


class _Connection(asyncio.Protocol):
    """One keep-alive connection: at most one request in flight; parses the response as it arrives."""

    __slots__ = ("transport", "pool", "waiter", "timer", "buffer", "state", "remaining", "response", "keep",
                 "closed", "used", "got_bytes", "idle_since", "head_only")

    def __init__(self, pool: "_Pool") -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.buffer = bytearray()
        self.state = "idle"  # idle | head | length | chunk-size | chunk-data | trailers | eof
        self.remaining = 0
        self.response: Response | None = None
        self.keep = True
        self.closed = False
        self.used = 0  # requests answered on this connection
        self.got_bytes = False
        self.idle_since = 0.0
        self.head_only = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection cannot be trusted any more
            self._close()
            return
        self.got_bytes = True
        self.buffer += data
        try:
            self._parse()
        except ProtocolError as error:
            self._fail(error)
        except ValueError as error:
            self._fail(ProtocolError(str(error)))

    def eof_received(self):
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.pool.lost(self)
        if self.waiter is None:
            return
        if self.state == "eof":  # a body delimited by the end of the connection
            self._finish()
        elif not self.got_bytes and self.used:
            self._fail(_Stale("the server closed the reused connection before answering"))
        else:
            self._fail(exc or ConnectionError("the server closed the connection during the response"))

    # requests
    def send(self, data: bytes, waiter: asyncio.Future, timeout: float, head_only: bool) -> None:
        self.waiter, self.got_bytes, self.state, self.head_only = waiter, False, "head", head_only
        self.timer = waiter.get_loop().call_later(timeout, self._timed_out)
        self.pool.client.write_soon(self, data)

    def _timed_out(self) -> None:
        self.timer = None
        self._fail(TimeoutError("no complete response in time"))

    def _fail(self, error: BaseException) -> None:
        waiter = self.waiter
        self._done()
        self._close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _finish(self) -> None:
        waiter, response = self.waiter, self.response
        self._done()
        self.used += 1
        if not waiter.done():
            waiter.set_result(response)
        if self.keep and not self.closed and not self.buffer:
            self.pool.release(self)
        else:
            self._close()

    def _done(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.waiter, self.response, self.state = None, None, "idle"

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool.lost(self)
            if self.transport is not None:
                self.transport.abort()  # nothing of ours is left to write; drop what the server still sends

    # the response
    def _parse(self) -> None:
        buffer = self.buffer
        while True:
            state = self.state
            if state == "head":
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD:
                        raise ProtocolError("response head too long")
                    return
                head = bytes(buffer[:end])
                del buffer[:end + 4]
                self._head(head)
            elif state == "length":
                if self._skip(buffer):
                    self._finish()
                return
            elif state == "chunk-size":
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 1024:
                        raise ProtocolError("chunk size line too long")
                    return
                size = int(bytes(buffer[:end]).split(b";", 1)[0].strip(), 16)
                if size < 0:
                    raise ProtocolError("negative chunk size")
                del buffer[:end + 2]
                self.state, self.remaining = ("chunk-data", size + 2) if size else ("trailers", 0)
            elif state == "chunk-data":
                if not self._skip(buffer):  # the chunk and its CRLF
                    return
                self.state = "chunk-size"
            elif state == "trailers":
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD:
                        raise ProtocolError("trailers too long")
                    return
                del buffer[:end + 2]
                if end == 0:  # the empty line after the last trailer
                    self._finish()
                    return
            elif state == "eof":
                buffer.clear()
                return
            else:
                return

    def _skip(self, buffer: bytearray) -> bool:
        """Drop up to `remaining` bytes of body we do not keep; True once all of them have come."""
        take = min(self.remaining, len(buffer))
        del buffer[:take]
        self.remaining -= take
        return not self.remaining

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:40]!r}")
        code = rest[:3]
        if len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"no status code: {lines[0][:40]!r}")
        status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise ProtocolError("a header line without a colon")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if 100 <= status < 200:  # 100 Continue, 103 Early Hints: the real response follows
            return
        connection = headers.get("connection", "").lower()
        self.keep = "close" not in connection and (version == b"HTTP/1.1" or "keep-alive" in connection)
        self.response = Response(status, headers)
        if self.head_only or status in NO_BODY:
            self.state = "done"
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "chunk-size"
        elif "content-length" in headers:
            self.remaining = int(headers["content-length"])
            if self.remaining < 0:
                raise ProtocolError("negative Content-Length")
            self.state = "length" if self.remaining else "done"
        else:
            self.state, self.keep = "eof", False
        if self.state == "done":
            self._finish()


class _Pool:
    """The connections to one origin: idle ones (most recently used last), how many are open, who waits."""

    __slots__ = ("client", "key", "idle", "open", "waiters")

    def __init__(self, client: "Client", key: tuple[str, str, int]) -> None:
        self.client, self.key = client, key
        self.idle: list[_Connection] = []
        self.open: set[_Connection] = set()
        self.waiters: deque[asyncio.Future] = deque()

    def release(self, connection: _Connection) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)  # straight to the next request
                return
        connection.idle_since = self.client.loop.time()
        self.idle.append(connection)

    def lost(self, connection: _Connection) -> None:
        if connection in self.open:
            self.open.discard(connection)
            if connection in self.idle:
                self.idle.remove(connection)
            self.wake()

    def wake(self) -> None:
        """A place is free: the first waiter may open a connection."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class Client:
    """Keep-alive connections per origin; use as `async with Client() as http:` (closing closes them all)."""

    def __init__(self, *, limit_per_origin: int = 100, ssl: ssl_module.SSLContext | None = None,
                 idle_for: float = IDLE_FOR) -> None:
        if limit_per_origin < 1:
            raise ValueError("limit_per_origin must be at least 1")
        self.limit, self.idle_for, self._ssl = limit_per_origin, idle_for, ssl
        self.pools: dict[tuple[str, str, int], _Pool] = {}
        self.connections_opened = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._writes: list[tuple[_Connection, asyncio.Future, bytes]] = []  # to write at the end of this turn

    def write_soon(self, connection: _Connection, data: bytes) -> None:
        """Write `data` on the connection once the callbacks that are ready now have run."""
        if not self._writes:
            self.loop.call_soon(self._flush)
        self._writes.append((connection, connection.waiter, data))

    def _flush(self) -> None:
        writes, self._writes = self._writes, []
        for connection, waiter, data in writes:
            # Not if the request ended meanwhile (timed out, cancelled, its connection lost).
            if connection.waiter is waiter and not connection.closed:
                connection.transport.write(data)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for pool in self.pools.values():
            for connection in list(pool.open):
                connection._close()
        self.pools.clear()
        await asyncio.sleep(0)  # let the transports finish closing

    def ssl_context(self) -> ssl_module.SSLContext:
        if self._ssl is None:
            self._ssl = ssl_module.create_default_context()
        return self._ssl

    async def post(self, target: Target | str, body: bytes, headers: Mapping[str, str], *,
                   timeout: float) -> Response:
        return await self.request("POST", target, body, headers, timeout=timeout)

    async def request(self, method: str, target: Target | str, body: bytes = b"",
                      headers: Mapping[str, str] | None = None, *, timeout: float) -> Response:
        if isinstance(target, str):
            target = Target.of(target)
        lines = [f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\n"]
        for name, value in (headers or {}).items():
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
                raise ValueError(f"a header that would break the request: {name!r}")
            lines.append(f"{name}: {value}\r\n")
        if body or method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1") + body
        loop = self.loop = self.loop or asyncio.get_running_loop()
        deadline = loop.time() + timeout
        head_only = method == "HEAD"
        pool = self.pools.get(target.key) or self.pools.setdefault(target.key, _Pool(self, target.key))
        connection = await self._acquire(pool, deadline, fresh=False)
        try:
            return await self._exchange(connection, data, deadline, head_only)
        except _Stale:  # the server closed an idle connection as we used it: once more on a new one
            connection = await self._acquire(pool, deadline, fresh=True)
            try:
                return await self._exchange(connection, data, deadline, head_only)
            except _Stale as error:
                raise ConnectionError(str(error)) from None

    async def _exchange(self, connection: _Connection, data: bytes, deadline: float, head_only: bool) -> Response:
        waiter = self.loop.create_future()
        connection.send(data, waiter, max(deadline - self.loop.time(), 0.0), head_only)
        try:
            return await waiter
        except asyncio.CancelledError:
            connection._fail(ConnectionError("cancelled"))  # half a response may still arrive: never reuse it
            raise

    async def _acquire(self, pool: _Pool, deadline: float, fresh: bool) -> _Connection:
        loop = self.loop
        while True:
            if not fresh:
                idle = pool.idle
                while idle:
                    connection = idle.pop()
                    if connection.closed:
                        continue
                    if loop.time() - connection.idle_since > self.idle_for:
                        connection._close()
                        continue
                    return connection
            if len(pool.open) < self.limit:
                return await self._connect(pool, deadline)
            waiter = loop.create_future()
            pool.waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    connection = await waiter
            except BaseException as error:
                if not waiter.done():
                    waiter.cancel()
                elif not waiter.cancelled():  # handed a connection or a place just as we gave up: pass it on
                    handed = waiter.result()
                    if handed is not None and not handed.closed:
                        pool.release(handed)
                    else:
                        pool.wake()
                if isinstance(error, TimeoutError):
                    raise TimeoutError("no free connection in time") from None
                raise
            if connection is not None and not connection.closed:
                return connection  # it just answered a request: alive, whether or not `fresh` was asked for

    async def _connect(self, pool: _Pool, deadline: float) -> _Connection:
        scheme, host, port = pool.key
        connection = _Connection(pool)
        pool.open.add(connection)  # counts against the limit while it connects
        try:
            async with asyncio.timeout_at(deadline):
                if scheme == "https":
                    await self.loop.create_connection(lambda: connection, host, port, ssl=self.ssl_context(),
                                                      server_hostname=host)
                else:
                    await self.loop.create_connection(lambda: connection, host, port)
        except BaseException:
            connection.closed = True
            pool.lost(connection)
            if connection.transport is not None:
                connection.transport.abort()
            raise
        self.connections_opened += 1
        return connection
