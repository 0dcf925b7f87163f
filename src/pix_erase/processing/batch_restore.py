"""The batch watermark model and its removal from one image: un-blend where it is
semi-transparent, inpaint where it is opaque.

A blended pixel is J = a W + (1 - a) I (alpha a, mark colour W, real pixel I). Where
alpha <= ``INVERT_MAX`` the blend is inverted, I = W + (J - W) / (1 - a), which restores
the real pixels instead of inventing them; the rest of the mask is inpainted (Telea).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .masks import Mask
from .pixels import Pixels, as_pixels, channels, colour_for, is_gray

Floats = NDArray[np.float32]

INVERT_MAX: Final = 0.9  # above this alpha the pixel is inpainted, not un-blended
ALPHA_MIN: Final = 0.08  # alpha below this is "no mark"
WIDE: Final = 12  # working pixels from the edge: the inside of a wide part


@dataclass(frozen=True)
class Crop:
    """The mark's area as fractions of the image (x0, y0, x1, y1) and its working size."""

    box: tuple[float, float, float, float]
    size: tuple[int, int]  # (width, height) of the working crop

    def pixels_box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        width, height = size
        x0, y0, x1, y1 = self.box
        return (
            math.floor(x0 * width),
            math.floor(y0 * height),
            max(math.floor(x0 * width) + 1, math.ceil(x1 * width)),
            max(math.floor(y0 * height) + 1, math.ceil(y1 * height)),
        )


@dataclass(frozen=True)
class Watermark:
    """The estimated mark on the working crop: alpha (0..1) and colour (B, G, R)."""

    crop: Crop
    alpha: Floats
    colour: Floats


def unblend(observed: Floats, alpha: Floats, colour: Floats) -> Floats:
    keep = np.maximum(1 - alpha, 1 - INVERT_MAX)[:, :, None]
    restored = colour + (observed - colour) / keep
    return np.asarray(np.clip(restored, 0, 255), dtype=np.float32)


def restore(pixels: Pixels, mark: Watermark) -> Pixels:
    """Remove ``mark`` from one image (any layout; alpha channel kept as it is)."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    x0, y0, x1, y1 = mark.crop.pixels_box((width, height))
    x1, y1 = min(width, x1), min(height, y1)
    alpha = np.asarray(
        cv2.resize(mark.alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR),
        dtype=np.float32,
    )
    count = channels(pixels)
    colour_channels = count - 1 if count in (2, 4) else count
    region = np.ascontiguousarray(
        pixels[y0:y1, x0:x1, :colour_channels] if count > 1 else pixels[y0:y1, x0:x1]
    )
    if region.ndim == 2:
        region = region[:, :, None]
    bgr = tuple(round(float(v)) for v in mark.colour)
    colour = np.array(
        colour_for(colour_channels, (bgr[2], bgr[1], bgr[0], 255)) if is_gray(pixels) else bgr,
        dtype=np.float32,
    )
    observed = region.astype(np.float32)
    # Inpainted: every pixel that touches an opaque working pixel (resizing the 0/1 map
    # keeps its rim, where interpolated alpha would un-blend an opaque mark).
    opaque = (mark.alpha > INVERT_MAX).astype(np.float32)
    touched = cv2.resize(opaque, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    hard = np.where(np.asarray(touched) > 0, np.uint8(255), np.uint8(0))
    soft = (alpha > ALPHA_MIN) & (hard == 0)
    restored = np.where(soft[:, :, None], unblend(observed, alpha, colour), observed)
    result = np.clip(restored + 0.5, 0, 255).astype(np.uint8)
    if hard.any():
        result = np.asarray(
            cv2.inpaint(result, hard, 3, cv2.INPAINT_TELEA), dtype=np.uint8
        ).reshape(result.shape)
    out = pixels.copy()
    if count == 1:
        out[y0:y1, x0:x1] = result[:, :, 0]
    else:
        out[y0:y1, x0:x1, :colour_channels] = result
    return as_pixels(out)


def shared_mask(mark: Watermark, size: tuple[int, int]) -> Mask:
    """The mark as a mask (255) on an image of ``size``."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.uint8)
    x0, y0, x1, y1 = mark.crop.pixels_box(size)
    x1, y1 = min(width, x1), min(height, y1)
    alpha = cv2.resize(mark.alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    mask[y0:y1, x0:x1] = np.where(np.asarray(alpha) > ALPHA_MIN, np.uint8(255), np.uint8(0))
    return mask


def outline_energy(pixels: Pixels, mark: Watermark) -> float:
    """Gradient energy along the outline of ``mark`` in ``pixels`` (its colour layers): a
    mark adds edges there, so removing it well lowers this, a wrong estimate does not."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    x0, y0, x1, y1 = mark.crop.pixels_box((width, height))
    x1, y1 = min(width, x1), min(height, y1)
    alpha = cv2.resize(mark.alpha, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    marked = (np.asarray(alpha) > ALPHA_MIN).astype(np.uint8)
    element = np.ones((3, 3), dtype=np.uint8)
    outline = (cv2.dilate(marked, element) - cv2.erode(marked, element)) > 0
    count = channels(pixels)
    region = pixels[y0:y1, x0:x1]
    if count >= 3:
        gray = cv2.cvtColor(np.ascontiguousarray(region[:, :, :3]), cv2.COLOR_BGR2GRAY)
    else:
        gray = region if count == 1 else region[:, :, 0]
    values = np.asarray(gray, dtype=np.float32)
    gx = cv2.Sobel(values, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(values, cv2.CV_32F, 0, 1, ksize=3)
    return float((np.abs(gx) + np.abs(gy))[outline].sum())


def opaque_misfit(pixels: Pixels, mark: Watermark) -> float:
    """How far (0-255, median of the largest channel difference) the inside of the wide
    parts the mark claims to cover opaquely is from its colour in this picture. An opaque
    mark shows its own colour there; where the picture shows something else the estimate
    does not fit it, and inpainting a wide area would invent what was visible (thin
    strokes are inpainted well either way, so they are not checked). 0 when no wide part
    is opaque."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    x0, y0, x1, y1 = mark.crop.pixels_box((width, height))
    x1, y1 = min(width, x1), min(height, y1)
    opaque = (mark.alpha > INVERT_MAX).astype(np.uint8)
    depth = cv2.distanceTransform(opaque, cv2.DIST_L2, 3)
    inner = (np.asarray(depth) > WIDE).astype(np.uint8)
    if not inner.any():
        return 0.0
    hard = np.asarray(cv2.resize(inner, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)) > 0
    if not hard.any():
        return 0.0
    count = channels(pixels)
    region = pixels[y0:y1, x0:x1]
    if count >= 3:
        values = region[:, :, :3][hard].astype(np.float32)
        colour = mark.colour.astype(np.float32)
    else:
        values = (region if count == 1 else region[:, :, 0])[hard].astype(np.float32)[:, None]
        colour = np.array([float(np.mean(mark.colour))], dtype=np.float32)
    return float(np.median(np.abs(values - colour).max(axis=1)))
