"""Request bodies cannot hold the server: too large, too slow, or never sent.

The bodies here are generators, so a test knows how much of a body the server pulled
and can stall a body forever (an event that is never set) to see what the server does.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI

from pix_erase.setup.config import Settings
from tests.conftest import MAX_UPLOAD_BYTES, app_with, make_client, signup_and_login

CHUNK = 64 * 1024
BOUNDARY = "pixboundary"
PART_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    "Content-Type: image/png\r\n\r\n"
).encode()
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


class Body:
    """A body of `total` bytes (after `head`) sent in chunks, or that stalls after `head`."""

    def __init__(self, total: int, head: bytes = b"", stall: bool = False) -> None:
        self.head, self.total, self.stall = head, total, stall
        self.sent = 0
        self.reading = asyncio.Event()  # set once the server asks for more than the head
        self.release = asyncio.Event()  # never set unless a test ends the stall

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.sent += len(self.head)
            yield self.head
        self.reading.set()
        if self.stall:
            await self.release.wait()
            return
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"x" * CHUNK


async def test_a_large_json_body_is_refused_after_the_limit_not_read_whole(app: FastAPI) -> None:
    body = Body(20 * 1024 * 1024)  # chunked: no Content-Length to refuse it by
    async with make_client(app) as http:
        response = await http.post(
            "/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert body.sent <= 1024 * 1024 + CHUNK


async def test_a_declared_oversized_body_is_refused_unread(app: FastAPI) -> None:
    body = Body(0, stall=True)
    async with make_client(app) as http:
        headers = {"Content-Type": "application/json", "Content-Length": str(300 * 1024 * 1024)}
        response = await asyncio.wait_for(
            http.post("/api/v1/auth/signup", content=body, headers=headers), 30
        )
    assert response.status_code == 413
    assert response.json()["details"] == {"max_bytes": 1024 * 1024}
    assert not body.reading.is_set()


async def test_a_chunked_upload_stops_at_the_upload_limit(app: FastAPI) -> None:
    body = Body(20 * 1024 * 1024, head=PART_HEAD)
    async with make_client(app) as http:
        user = await signup_and_login(http)
        response = await user.post("/api/v1/images", content=body, headers=MULTIPART)
    assert response.status_code == 413, response.text
    assert response.json()["code"] in {"request_too_large", "upload_too_large"}
    assert body.sent <= MAX_UPLOAD_BYTES + 64 * 1024 + 2 * CHUNK


async def test_a_stalled_upload_gets_a_408(settings: Settings) -> None:
    async with app_with(settings, body_timeout_seconds=0.5) as app, make_client(app) as http:
        user = await signup_and_login(http)
        body = Body(0, head=PART_HEAD, stall=True)
        response = await asyncio.wait_for(
            user.post("/api/v1/images", content=body, headers=MULTIPART), 30
        )
    assert response.status_code == 408
    assert response.json()["code"] == "request_timeout"


async def test_uploads_waiting_for_their_body_hold_no_database_connection(
    settings: Settings,
) -> None:
    """More stalled uploads than the pool has connections; others are still answered."""
    tiny_pool = {"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 2.0}
    async with app_with(settings, **tiny_pool) as app, make_client(app) as http:
        uploader, other = await signup_and_login(http), await signup_and_login(http)
        bodies = [Body(0, head=PART_HEAD, stall=True) for _ in range(3)]
        uploads = [
            asyncio.create_task(uploader.post("/api/v1/images", content=b, headers=MULTIPART))
            for b in bodies
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(b.reading.wait() for b in bodies)), 30)
            me = await other.get("/api/v1/auth/me")
            listed = await uploader.get("/api/v1/images")
        finally:
            for task in uploads:
                task.cancel()
            await asyncio.gather(*uploads, return_exceptions=True)
    assert me.status_code == 200, me.text
    assert listed.status_code == 200, listed.text


async def test_a_login_body_just_under_the_limit_is_still_validated(app: FastAPI) -> None:
    password = "p" * 200
    async with make_client(app) as http:
        email = f"big-{uuid.uuid4().hex[:8]}@example.com"
        response = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": password, "pad": "x" * 900_000}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
