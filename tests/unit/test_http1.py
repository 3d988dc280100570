"""The push sender's HTTP/1.1 client (server/notify/http1.py) against small servers written here, on 127.0.0.1:
keep-alive reuse, the framings of a response body, servers that close or never answer, and TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from py_vapid import Vapid02

from server.notify import http1, push
from tests.pushservice import Device, b64


class Server:
    """An HTTP/1.1 server whose answer to each request is up to the test: `answer(request, number on this
    connection)` returns the bytes to write, or None to write nothing; `close_after` closes the connection
    after that answer. Counts the connections it accepted and records every request it read."""

    def __init__(self, answer=None, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer or (lambda request, n: b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        self.tls = tls
        self.accepted = 0
        self.requests: list[dict] = []
        self.close_after: set[int] = set()  # numbers of requests (counted over all connections) to close after
        self.hang = False
        self.handlers: set[asyncio.Task] = set()

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    def url(self, path: str = "/push/x", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.handlers.add(asyncio.current_task())
        on_this = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, version = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                on_this += 1
                request = {"method": method, "path": path, "version": version, "headers": headers, "body": body}
                self.requests.append(request)
                if self.hang:
                    await asyncio.sleep(3600)
                answer = self.answer(request, on_this)
                if answer is None:  # close without a word
                    return
                writer.write(answer)
                await writer.drain()
                if len(self.requests) in self.close_after:
                    return
        finally:
            writer.close()


async def test_many_requests_go_over_one_kept_alive_connection():
    async with Server() as server, http1.Client(limit_per_origin=1) as client:
        for n in range(50):
            response = await client.post(server.url(f"/push/d{n}"), f"body {n}".encode(),
                                         {"TTL": "60", "Topic": "abc"}, timeout=5)
            assert response.status == 201
        # many at once share the one connection, waiting their turn
        answers = await asyncio.gather(*(client.post(server.url(), b"x", {}, timeout=5) for _ in range(20)))

    assert [a.status for a in answers] == [201] * 20
    assert server.accepted == 1 and client.connections_opened == 1
    first = server.requests[0]
    assert first["method"] == "POST" and first["path"] == "/push/d0" and first["version"] == "HTTP/1.1"
    assert first["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert first["headers"]["ttl"] == "60" and first["headers"]["topic"] == "abc"
    assert [r["body"] for r in server.requests[:50]] == [f"body {n}".encode() for n in range(50)]


async def test_concurrent_requests_open_at_most_the_limit_of_connections():
    async with Server() as server, http1.Client(limit_per_origin=4) as client:
        answers = await asyncio.gather(*(client.post(server.url(), b"x", {}, timeout=5) for _ in range(40)))
    assert all(a.status == 201 for a in answers) and len(server.requests) == 40
    assert server.accepted <= 4


async def test_a_chunked_response_is_read_to_its_end_and_the_connection_reused():
    chunked = (b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
               b"5;ext=1\r\nhello\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nX-Trailer: yes\r\n\r\n")
    async with Server(lambda request, n: chunked) as server, http1.Client() as client:
        for _ in range(3):
            response = await client.post(server.url(), b"x", {}, timeout=5)
            assert response.status == 400 and response.headers["content-type"] == "text/plain"
    assert server.accepted == 1 and len(server.requests) == 3


async def test_a_body_with_a_content_length_is_read_and_the_connection_reused():
    answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
    async with Server(lambda request, n: answer) as server, http1.Client() as client:
        for _ in range(3):
            assert (await client.post(server.url(), b"x", {}, timeout=5)).status == 404
    assert server.accepted == 1


async def test_connection_close_is_honoured_and_a_body_to_the_end_of_the_connection_is_read():
    answers = [b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
               b"HTTP/1.1 200 OK\r\n\r\nthe body ends when the connection does",  # no length: read until closed
               b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n"]  # HTTP/1.0 without keep-alive
    server = Server(lambda request, n: answers[len(server.requests) - 1])
    server.close_after = {1, 2, 3}
    async with server, http1.Client() as client:
        statuses = [(await client.post(server.url(), b"x", {}, timeout=5)).status for _ in range(3)]
    assert statuses == [201, 200, 202]
    assert server.accepted == 3 and client.connections_opened == 3


async def test_a_server_that_closes_an_idle_connection_does_not_lose_the_next_request():
    server = Server()
    server.close_after = {1}  # answers, then closes the kept-alive connection
    async with server, http1.Client() as client:
        assert (await client.post(server.url(), b"one", {}, timeout=5)).status == 201
        await asyncio.sleep(0.05)
        assert (await client.post(server.url(), b"two", {}, timeout=5)).status == 201
    assert [r["body"] for r in server.requests] == [b"one", b"two"] and server.accepted == 2


async def test_a_reused_connection_closed_as_the_request_arrives_is_retried_once_on_a_new_one():
    # The race the keep-alive timeout of a real push service makes: the server reads our second request on
    # the idle connection and closes it without answering. The request goes again on a fresh connection.
    def answer(request, on_this_connection):
        return None if request["body"] == b"two" and on_this_connection == 2 else (
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")

    async with Server(answer) as server, http1.Client() as client:
        assert (await client.post(server.url(), b"one", {}, timeout=5)).status == 201
        assert (await client.post(server.url(), b"two", {}, timeout=5)).status == 201
    assert [r["body"] for r in server.requests] == [b"one", b"two", b"two"] and server.accepted == 2


async def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_retry():
    async with Server(lambda request, n: None) as server, http1.Client() as client:
        with pytest.raises(ConnectionError):
            await client.post(server.url(), b"x", {}, timeout=5)
    assert len(server.requests) == 1  # sent once: the connection was new, so the server did see it


async def test_a_server_that_never_answers_times_out_and_its_connection_is_not_reused():
    async with Server() as server, http1.Client() as client:
        server.hang = True
        with pytest.raises(TimeoutError):
            await client.post(server.url(), b"x", {}, timeout=0.2)
        server.hang = False
        assert (await client.post(server.url(), b"y", {}, timeout=5)).status == 201
    assert server.accepted == 2


async def test_the_pusher_turns_a_timeout_and_a_refused_connection_into_a_retry():
    device = Device("/push/d")
    vapid = Vapid02()
    vapid.generate_keys()
    async with Server() as server, http1.Client() as client:
        server.hang = True
        pusher = push.Pusher(client, vapid, "mailto:drift@example.no", timeout=0.2)
        target = push.Device.of(1, server.url("/push/d"), device.p256dh, b64(device.auth))
        assert await pusher.send(target, b"{}", topic="t") == push.Outcome("retry", None, "TimeoutError")
        closed = push.Device.of(2, f"http://127.0.0.1:{free_port()}/push/d", device.p256dh, b64(device.auth))
        outcome = await pusher.send(closed, b"{}", topic="t")
    assert outcome.kind == "retry" and outcome.status is None and "Error" in outcome.detail


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for localhost and 127.0.0.1: (the server's context, a client context that trusts it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_https_with_a_trusted_certificate_reuses_one_connection(tmp_path):
    server_tls, client_tls = self_signed(tmp_path)
    async with Server(tls=server_tls) as server, http1.Client(ssl=client_tls) as client:
        for n in range(5):
            response = await client.post(server.url(scheme="https", host="localhost"), f"{n}".encode(), {},
                                         timeout=5)
            assert response.status == 201
    assert server.accepted == 1 and [r["body"] for r in server.requests] == [b"0", b"1", b"2", b"3", b"4"]
    assert server.requests[0]["headers"]["host"] == f"localhost:{server.port}"


async def test_https_refuses_a_certificate_it_does_not_trust(tmp_path):
    server_tls, _ = self_signed(tmp_path)
    async with Server(tls=server_tls) as server, http1.Client() as client:  # the default context verifies
        with pytest.raises(ssl.SSLCertVerificationError):
            await client.post(server.url(scheme="https", host="localhost"), b"x", {}, timeout=5)
    assert server.requests == []


def test_a_target_is_parsed_once_and_a_header_cannot_break_the_request():
    target = http1.Target.of("https://push.example.com/wpush/v2/abc?x=1")
    assert target.key == ("https", "push.example.com", 443)
    assert target.host_header == "push.example.com" and target.path == "/wpush/v2/abc?x=1"
    assert http1.Target.of("http://[::1]:8080/p").host_header == "[::1]:8080"
    with pytest.raises(ValueError):
        http1.Target.of("ftp://example.com/x")


async def test_a_header_value_with_a_line_break_is_refused_before_anything_is_sent():
    async with Server() as server, http1.Client() as client:
        with pytest.raises(ValueError):
            await client.post(server.url(), b"x", {"Topic": "a\r\nX-Injected: 1"}, timeout=5)
    assert server.requests == []
