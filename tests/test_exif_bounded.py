"""GET .../exif reads the EXIF, not the image: a bounded part of the stored object.

The storage is watched (every byte it hands out is counted) while the route runs; the
images are large noise, so a read of the whole object cannot hide in the margin.
"""

from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from tests.conftest import UserClient, encode, services_of

HEAD_BUDGET = 300 * 1024  # the route's head read (256 KiB) plus a few chunk headers


def noise(width: int, height: int) -> Image.Image:
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def tagged_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PixCam"  # Make
    exif[0x0110] = "Model 7"  # Model
    return exif.tobytes()


class CountingStorage:
    """Counts the bytes the storage returns, through any of its read methods."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, storage: Any) -> None:
        self.read = 0
        for name in ("get_bytes", "get_range"):
            original = getattr(storage, name, None)
            if original is not None:
                monkeypatch.setattr(storage, name, self._counting(original))
        stream = storage.stream

        async def counted_stream(*args: Any) -> Any:
            async for chunk in stream(*args):
                self.read += len(chunk)
                yield chunk

        monkeypatch.setattr(storage, "stream", counted_stream)

    def _counting(self, method: Any) -> Any:
        async def counted(*args: Any) -> bytes:
            data: bytes = await method(*args)
            self.read += len(data)
            return data

        return counted


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
async def test_exif_is_read_from_a_bounded_part_of_the_object(
    fmt: str, user: UserClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A WebP keeps its EXIF chunk after the pixels: the route must find it by range reads.
    data = encode(noise(1000, 800), fmt, exif=tagged_exif(), quality=100)
    assert len(data) > 2 * HEAD_BUDGET
    image = await user.upload_ok(data, f"big.{fmt.lower()}")
    storage = CountingStorage(monkeypatch, services_of(app).storage)
    response = await user.get(f"/api/v1/images/{image['id']}/exif")
    assert response.status_code == 200
    assert response.json()["Make"] == "PixCam"
    assert response.json()["Model"] == "Model 7"
    assert storage.read <= HEAD_BUDGET
