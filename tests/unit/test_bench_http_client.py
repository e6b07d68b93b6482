"""The load generator's HTTP client: requests and answers on the wire, and connections reused.

The loopback tests use a tiny asyncio server on 127.0.0.1 (no services): it answers every
request with its own connection number, so a test sees which connection carried what.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.http_client import Answer, HttpError, KeepAliveClient, encode_request, parse_head


def test_a_request_with_a_body_says_its_length_and_type():
    data = encode_request("POST", "/api/auth/init", "h:1", b"User-Agent: x\r\n", b'{"a": 1}')
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [b"POST /api/auth/init HTTP/1.1", b"Host: h:1", b"User-Agent: x",
                                   b"Content-Type: application/json", b"Content-Length: 8"]
    assert body == b'{"a": 1}'
    assert encode_request("GET", "/x?wait=1", "h:1", b"", None) == b"GET /x?wait=1 HTTP/1.1\r\nHost: h:1\r\n\r\n"


def test_a_response_head_gives_status_length_and_keep_alive():
    assert parse_head(b"HTTP/1.1 201 CREATED\r\nContent-Length: 12\r\nContent-Type: x\r\n\r\n") == (201, 12, True)
    assert parse_head(b"HTTP/1.1 200 OK\r\nconnection: Close\r\n\r\n") == (200, 0, False)
    assert parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == (200, 0, False)
    with pytest.raises(HttpError):
        parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(HttpError):
        parse_head(b"garbage\r\n\r\n")


def test_answer_reads_json_and_text():
    answer = Answer(200, b'{"status": "pending"}')
    assert answer.json() == {"status": "pending"} and answer.text == '{"status": "pending"}'


async def _serve(close_after: int | None = None, close_idle: bool = False):
    """Start a server that answers each request with {"connection": n, "body": ...}."""
    opened = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        number, served = opened, 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length) if length else b""
                served += 1
                last = close_after is not None and served >= close_after
                payload = json.dumps({"connection": number, "body": body.decode()}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
                             % (len(payload), b"Connection: close\r\n" if last else b"") + payload)
                await writer.drain()
                if last or close_idle:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def test_sequential_requests_share_one_connection_and_bodies_arrive():
    async def scenario():
        server, url = await _serve()
        client = KeepAliveClient(url)
        try:
            answers = [await client.post("/p", {"n": n}) for n in range(3)]
        finally:
            await client.close()
            server.close()
        return client.opened, [a.json() for a in answers]

    opened, bodies = asyncio.run(scenario())
    assert opened == 1
    assert [b["connection"] for b in bodies] == [1, 1, 1]
    assert [json.loads(b["body"]) for b in bodies] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_requests_in_flight_at_once_each_get_a_connection():
    async def scenario():
        server, url = await _serve()
        client = KeepAliveClient(url)
        try:
            answers = await asyncio.gather(*(client.get("/g", {"i": i}) for i in range(4)))
            again = await client.get("/g")
        finally:
            await client.close()
            server.close()
        return client.opened, {a.json()["connection"] for a in answers}, again.json()["connection"]

    opened, connections, reused = asyncio.run(scenario())
    assert opened == 4 and len(connections) == 4 and reused in connections


def test_connection_close_is_honoured_and_a_connection_closed_while_idle_is_replaced():
    async def scenario(**server_options):
        server, url = await _serve(**server_options)
        client = KeepAliveClient(url)
        try:
            first = await client.get("/a")
            await asyncio.sleep(0.05)  # the server closes the idle connection meanwhile
            second = await client.get("/b")
        finally:
            await client.close()
            server.close()
        return client.opened, first.json()["connection"], second.json()["connection"]

    assert asyncio.run(scenario(close_after=1)) == (2, 1, 2)
    # The server closed without saying so: the request goes out again on a new connection.
    assert asyncio.run(scenario(close_idle=True)) == (2, 1, 2)


def test_a_server_that_does_not_answer_times_out_as_an_http_error():
    async def scenario():
        async def silent(reader, writer):
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        client = KeepAliveClient(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", timeout=0.2)
        try:
            with pytest.raises(HttpError, match="TimeoutError"):
                await client.get("/slow")
        finally:
            server.close()

    asyncio.run(scenario())
