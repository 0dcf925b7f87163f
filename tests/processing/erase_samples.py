"""Test material for the erase family, built by ``bench.quality_set`` (the module the
erase-quality benchmark uses, so both measure the same marks): photos with watermarks on
them, the clean originals as ground truth, composites for background removal, metrics;
and the few helpers only the tests need (JPEG bytes, a mask read back, a small default
photo and text mark)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from bench.quality_set import (
    U8,
    blend,
    composite,
    decoded,
    iou,
    logo_coverage,
    png,
    precision,
    psnr,
    recall,
    text_coverage,
    u2netp_model,
)
from bench.quality_set import photo as sample_photo
from numpy.typing import NDArray
from PIL import Image

from pix_erase.processing.errors import ImageError

__all__ = [
    "U8",
    "Watermarked",
    "blend",
    "code",
    "composite",
    "decoded",
    "iou",
    "jpeg",
    "mask_of",
    "photo",
    "png",
    "precision",
    "psnr",
    "recall",
    "ring_alpha",
    "text_alpha",
    "u2netp_model",
    "watermarked",
]


def photo(name: str = "astronaut", size: tuple[int, int] = (320, 240)) -> U8:
    """A scikit-image sample photo as BGR, at the tests' small default size."""
    return sample_photo(name, size)


def text_alpha(
    size: tuple[int, int],
    text: str,
    position: tuple[int, int],
    font_size: int,
    *,
    dejavu: bool = False,
) -> NDArray[np.float32]:
    """Coverage (0..1, anti-aliased) of ``text`` in Pillow's font or DejaVu Sans Bold."""
    return text_coverage(size, text, position, "dejavu-bold" if dejavu else "pillow", font_size)


def ring_alpha(
    size: tuple[int, int], box: tuple[int, int, int, int], width: int
) -> NDArray[np.float32]:
    """Coverage of a ring logo inscribed in ``box`` (x0, y0, x1, y1)."""
    return logo_coverage(size, "ring", box, width)


@dataclass(frozen=True)
class Watermarked:
    clean: U8  # ground truth, BGR
    marked: U8  # with the watermark
    truth: NDArray[np.bool_]  # where the mark has any coverage


def watermarked(
    name: str = "astronaut",
    text: str = "SAMPLE 2026",
    *,
    size: tuple[int, int] = (320, 240),
    position: tuple[int, int] = (30, 150),
    font_size: int = 34,
    colour: tuple[int, int, int] = (255, 255, 255),
    opacity: float = 1.0,
    dejavu: bool = False,
) -> Watermarked:
    clean = photo(name, size)
    coverage = text_alpha(size, text, position, font_size, dejavu=dejavu)
    return Watermarked(clean, blend(clean, coverage, colour, opacity), coverage > 0)


def jpeg(pixels: U8, quality: int = 95) -> bytes:
    ok, buffer = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buffer.tobytes())


def mask_of(data: bytes) -> NDArray[np.bool_]:
    image = Image.open(io.BytesIO(data))
    assert image.mode == "L"
    values = np.asarray(image)
    assert set(np.unique(values).tolist()) <= {0, 255}
    return values > 0


def code(error: pytest.ExceptionInfo[ImageError]) -> str:
    """The error's code as a plain string."""
    return str(error.value.code)
