"""Bad input: each gets a clear 4xx in the error envelope, and nothing is stored."""

import hashlib
import json
import struct
import zlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pix_erase.setup.config import Settings
from tests.conftest import MAX_UPLOAD_BYTES, UserClient, encode, sample_rgb, stored_keys


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims a huge canvas (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]


@pytest.mark.parametrize(
    ("name", "payload", "status", "code"),
    [
        ("truncated.jpg", "truncated_jpeg", 422, "corrupt_image"),
        ("notes.png", "text", 422, "unsupported_format"),
        ("bomb.png", "bomb", 413, "too_many_pixels"),
        ("empty.png", "empty", 422, "empty_upload"),
    ],
)
async def test_bad_files_are_refused_and_not_stored(
    user: UserClient, app: FastAPI, name: str, payload: str, status: int, code: str
) -> None:
    data = {
        "truncated_jpeg": encode(sample_rgb(400, 300), "JPEG", quality=90)[:3000],
        "text": b"this is not an image, whatever its name says\n" * 10,
        "bomb": png_declaring(50000, 50000),
        "empty": b"",
    }[payload]
    before = await stored_keys(app)
    response = await user.upload(data, name)
    assert_envelope(response, status, code)
    assert await stored_keys(app) == before
    assert (await user.get("/api/v1/images")).json()["total"] == 0


async def test_an_upload_over_the_byte_limit_is_413(
    user: UserClient, app: FastAPI, settings: Settings
) -> None:
    before = await stored_keys(app)
    response = await user.upload(b"\xff" * (MAX_UPLOAD_BYTES + 1), "big.jpg")
    assert_envelope(response, 413, "upload_too_large")
    assert response.json()["details"] == {"max_bytes": MAX_UPLOAD_BYTES}
    assert await stored_keys(app) == before
    assert not list((settings.app.data_dir / "uploads").iterdir())


async def test_an_upload_that_is_not_multipart_is_415(user: UserClient) -> None:
    response = await user.post(
        "/api/v1/images", content=b"raw", headers={"Content-Type": "image/png"}
    )
    assert_envelope(response, 415, "unsupported_media_type")


async def test_a_multipart_upload_without_file_is_422(user: UserClient) -> None:
    response = await user.post("/api/v1/images", data={"other": "x"}, files={"x": ("a", b"b")})
    assert_envelope(response, 422, "missing_file")


def multipart(*parts: tuple[str, str | None, bytes], end: bool = True) -> tuple[bytes, str]:
    """A multipart body of (field name, file name or None, content) parts, and its type."""
    boundary = "pix-erase-test-boundary"
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    if end:
        body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("parts", "end", "status", "code"),
    [
        ([("file", "a.png", b"x" * 100)], False, 400, "bad_request"),  # cut off
        ([("file", "a.png", b"x"), ("file", "b.png", b"y")], True, 400, "bad_request"),
        ([("file", None, b"not a file part")], True, 422, "missing_file"),
    ],
)
async def test_a_broken_multipart_upload_is_refused_and_nothing_is_left(
    user: UserClient,
    app: FastAPI,
    settings: Settings,
    parts: list[tuple[str, str | None, bytes]],
    end: bool,
    status: int,
    code: str,
) -> None:
    body, content_type = multipart(*parts, end=end)
    before = await stored_keys(app)
    response = await user.post(
        "/api/v1/images", content=body, headers={"Content-Type": content_type}
    )
    assert_envelope(response, status, code)
    assert await stored_keys(app) == before
    assert not list((settings.app.data_dir / "uploads").iterdir())


async def test_an_upload_with_other_fields_stores_the_file_byte_for_byte(
    user: UserClient,
) -> None:
    photo = encode(sample_rgb(300, 200), "PNG")
    body, content_type = multipart(("note", None, b"hello"), ("file", "p.png", photo))
    response = await user.post(
        "/api/v1/images", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 201, response.text
    image = response.json()
    assert image["bytes"] == len(photo)
    assert image["filename"] == "p.png"
    content = await user.get(f"/api/v1/images/{image['id']}/content")
    assert content.content == photo
    assert content.headers["ETag"] == f'"{hashlib.sha256(photo).hexdigest()}"'


async def test_malformed_json_is_422(user: UserClient) -> None:
    image = await user.upload_ok(encode(sample_rgb(), "PNG"))
    response = await user.post(
        f"/api/v1/images/{image['id']}/operations",
        content=b'{"operation": {"type": ',
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 422, "malformed_json")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"operation": {"type": "sparkle"}}, "unknown_operation"),
        ({"operation": {"type": "rotate", "angle": "NaN"}}, "validation_error"),
        ({"operation": {"type": "rotate", "angle": float("inf")}}, "validation_error"),
        ({"operation": {"type": "resize", "scale": 10}}, "validation_error"),
        ({"operation": {"type": "resize"}}, "validation_error"),
        ({"operation": {"type": "convert", "format": "jpeg", "quality": 0}}, "validation_error"),
        ({"operation": {"type": "convert", "format": "gif"}}, "validation_error"),
        ({"operation": {"type": "grayscale", "extra": 1}}, "validation_error"),
        ({"steps": []}, "validation_error"),
        ({"steps": [{"type": "grayscale"}] * 9}, "validation_error"),
        ({"steps": [{"type": "compare", "other_image_id": "x"}]}, "unknown_operation"),
        ({}, "validation_error"),
        (
            {"operation": {"type": "grayscale"}, "steps": [{"type": "grayscale"}]},
            "validation_error",
        ),
    ],
)
async def test_bad_operation_bodies_are_422(
    user: UserClient, body: dict[str, Any], code: str
) -> None:
    image = await user.upload_ok(encode(sample_rgb(), "PNG"))
    response = await user.post(
        f"/api/v1/images/{image['id']}/operations",
        content=json.dumps(body).replace("Infinity", "1e999"),  # JSON has no inf literal
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 422, code)
    assert (await user.get("/api/v1/images")).json()["total"] == 1  # nothing new was made


async def test_a_bad_id_in_the_path_is_422(user: UserClient) -> None:
    response = await user.get("/api/v1/images/not-a-uuid")
    assert_envelope(response, 422, "validation_error")
