"""`LIMIT_CONCURRENCY` on a real `pix-erase serve`: a connection that would make that many
open connections gets a 503 at once (in the error envelope, though the app never sees the
request), and requests are served again as soon as a connection closes. Idle
keep-alive connections are what a crowd of clients holds."""

import asyncio
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.backends import PixProcess, free_port

LIMIT = 3


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data_dir = tmp_path_factory.mktemp("serve-concurrency")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {
        "PIX_ERASE_DATA_DIR": str(data_dir),
        "UVICORN_PORT": str(port),
        "LIMIT_CONCURRENCY": str(LIMIT),
        "KEEP_ALIVE_TIMEOUT_SECONDS": "60",
    }
    serve = PixProcess(["serve"], env, data_dir / "serve.log")
    try:
        serve.wait_ready(f"http://127.0.0.1:{port}")
        yield port
    finally:
        serve.stop()


async def kept_alive(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that made one request and stays open (HTTP/1.1 keep-alive)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


async def test_past_the_limit_a_request_gets_503_until_a_connection_closes(port: int) -> None:
    held = [await kept_alive(port) for _ in range(LIMIT - 1)]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        refused = await client.get("/health/live")
        assert refused.status_code == 503
        assert refused.json()["code"] == "server_busy"
        assert refused.headers["retry-after"] == "1"
        for _, writer in held:
            writer.close()
            await writer.wait_closed()
        for _ in range(100):  # the server notices the closed connections
            answer = await client.get("/health/live")
            if answer.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert answer.status_code == 200
