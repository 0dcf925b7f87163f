"""Clients that stall or flood a real `pix-erase serve`: raw sockets against uvicorn.

What the HTTP server does with a connection (header deadline, header size, forwarded
headers) happens before the app, so only a real server process shows it. Each test
waits for a state (an answer, a closed connection) and bounds how long it waits.
"""

import asyncio
import json
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.backends import PixProcess, free_port

PATIENCE = 30  # the longest a test waits for the server to answer or hang up


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    data_dir = tmp_path_factory.mktemp("serve-limits")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("FORWARDED_ALLOW_IPS", None)
    env |= {
        "PIX_ERASE_DATA_DIR": str(data_dir),
        "UVICORN_PORT": str(port),
        "REQUEST_HEADER_TIMEOUT_SECONDS": "2",
        "REQUEST_BODY_TIMEOUT_SECONDS": "2",
        "LOGIN_MAX_FAILURES_PER_CLIENT": "3",
    }
    serve = PixProcess(["serve"], env, data_dir / "serve.log")
    try:
        serve.wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", port
    finally:
        serve.stop()


async def exchange(port: int, *parts: bytes) -> bytes:
    """Send `parts`, then read until the server closes the connection. A server that
    answers and hangs up mid-send may reset the connection: what it sent is kept."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = b""
    try:
        try:
            for part in parts:
                writer.write(part)
                await writer.drain()
        except ConnectionError:
            pass
        while chunk := await asyncio.wait_for(reader.read(65536), PATIENCE):
            received += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return received


async def test_a_connection_that_stalls_in_its_headers_is_closed(
    base: tuple[str, int],
) -> None:
    answer = await exchange(base[1], b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
    assert answer == b""  # closed without an answer: the request never came


async def test_oversized_headers_are_refused(base: tuple[str, int]) -> None:
    big = b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n"
    answer = await exchange(
        base[1], b"GET /health/live HTTP/1.1\r\nHost: x\r\n", big, b"Connection: close\r\n\r\n"
    )
    # A 400, or the connection dropped before the whole answer arrived: never a 200.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]


async def test_a_request_the_server_cannot_parse_is_a_400_in_the_error_envelope(
    base: tuple[str, int],
) -> None:
    answer = await exchange(base[1], b"GET /health/live HTTP/1.1\r\nHost x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {
        "code": "bad_request",
        "message": "Invalid HTTP request received.",
        "details": None,
    }


async def test_a_head_just_under_the_limit_is_served_with_its_body_in_the_same_write(
    base: tuple[str, int],
) -> None:
    """The limit counts the head only: a head of nearly 32 KB followed, in one write, by
    a body larger than the limit is answered by the app (a 422 for a JSON that is not a
    login), and a head over the limit is a 400."""
    near = b"X-Pad: " + b"a" * (31 * 1024) + b"\r\n"
    body = b"[" + b"0," * 40_000 + b"0]"
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + near
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    )
    answer = await exchange(base[1], head + body)
    assert answer.startswith(b"HTTP/1.1 422"), answer[:200]
    over = head.replace(near, near + b"X-More: " + b"b" * 2048 + b"\r\n")
    answer = await exchange(base[1], over + body)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]


async def test_pipelined_requests_are_all_answered(base: tuple[str, int]) -> None:
    one = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = await exchange(base[1], one * 3 + last)
    assert answer.count(b"HTTP/1.1 200") == 4, answer[:400]


async def test_a_huge_declared_body_is_refused_without_waiting_for_it(
    base: tuple[str, int],
) -> None:
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2147483648\r\n\r\n"
    )
    answer = await exchange(base[1], head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"request_too_large"' in answer


async def test_a_stalled_body_gets_a_408_and_the_connection_ends(base: tuple[str, int]) -> None:
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    answer = await exchange(base[1], head, b'{"email": ')
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"request_timeout"' in answer


def test_forwarded_for_from_an_untrusted_peer_does_not_change_the_client(
    base: tuple[str, int],
) -> None:
    """With FORWARDED_ALLOW_IPS unset, a loopback client cannot pick new addresses to
    escape the per-client throttle (3 failures here) by sending X-Forwarded-For."""
    statuses = []
    with httpx.Client(base_url=base[0], timeout=PATIENCE) as http:
        for i in range(4):
            response = http.post(
                "/api/v1/auth/login",
                json={"email": f"x{i}-{uuid.uuid4().hex[:6]}@example.com", "password": "nope"},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429]
