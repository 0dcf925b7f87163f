"""Test images made on the fly: small pictures with marked corners, in every format."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageCms

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
ORIENTATION = 0x0112


def marked(width: int = 64, height: int = 48, patch: int = 8) -> Image.Image:
    """White RGB picture with a red square in the top-left and a blue one bottom-right."""
    pixels = np.full((height, width, 3), 255, dtype=np.uint8)
    pixels[:patch, :patch] = RED
    pixels[-patch:, -patch:] = BLUE
    return Image.fromarray(pixels)


def transparent_square(width: int = 64, height: int = 48) -> Image.Image:
    """RGBA: fully transparent, with an opaque red square in the middle."""
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = (*RED, 255)
    return Image.fromarray(pixels)


def noisy(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth gradient with noise, so resampling and comparisons have detail to see."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.dstack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256])
    pixels = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def exif_with(orientation: int | None = None, make: str | None = "PixCam") -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if make is not None:
        exif[0x010F] = make
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def opened(data: bytes) -> Image.Image:
    """Pillow's independent reading of result bytes (a second opinion on our encoder)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rgb_array(data: bytes) -> NDArray[np.uint8]:
    return np.asarray(opened(data).convert("RGB"))


def rgba_array(data: bytes) -> NDArray[np.uint8]:
    return np.asarray(opened(data).convert("RGBA"))


def is_close(pixel: object, expected: tuple[int, ...], tolerance: int = 40) -> bool:
    values = np.asarray(pixel, dtype=np.int32)
    return bool(np.all(np.abs(values - np.asarray(expected, dtype=np.int32)) <= tolerance))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 256)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def animated_gif(frames: int, width: int = 16, height: int = 12) -> bytes:
    # Every frame differs, or Pillow's writer would merge them.
    images = [Image.new("L", (width, height), color=(i * 17) % 256) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=50)
