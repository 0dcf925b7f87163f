"""The batch watermark model and its removal from one image: un-blend where it is
semi-transparent, inpaint where it is opaque.

A blended pixel is J = a W + (1 - a) I (alpha a, mark colour W, real pixel I; both a and
W per pixel, so a shadow under white letters is one mark). Where alpha <= ``INVERT_MAX``
the blend is inverted, I = (J - a W) / (1 - a), which restores the real pixels instead of
inventing them; the rest of the mask is inpainted (Telea).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .masks import Mask
from .pixels import Pixels, as_pixels, channels, is_gray

Floats = NDArray[np.float32]

INVERT_MAX: Final = 0.9  # above this alpha the pixel is inpainted, not un-blended
ALPHA_MIN: Final = 0.08  # alpha below this is not in the mask (nor in the shared mark)
ALPHA_FAINT: Final = 0.02  # ... but from this alpha on it is un-blended (a fringe)
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
    """The estimated mark on the working crop: alpha (H x W, 0..1) and colour (B, G, R:
    one colour, 3 values, or one per pixel, H x W x 3)."""

    crop: Crop
    alpha: Floats
    colour: Floats

    def colours(self) -> Floats:
        """The colour per pixel of the working crop (H x W x 3)."""
        if self.colour.ndim == 3:
            return self.colour
        shape = (*self.alpha.shape, 3)
        return np.broadcast_to(self.colour.astype(np.float32), shape).copy()


def unblend(observed: Floats, alpha: Floats, colour: Floats) -> Floats:
    """I = W + (J - W) / (1 - a); ``colour`` one (3 values) or per pixel."""
    keep = np.maximum(1 - alpha, 1 - INVERT_MAX)[:, :, None]
    restored = colour + (observed - colour) / keep
    return np.asarray(np.clip(restored, 0, 255), dtype=np.float32)


def _full_size(values: Floats, size: tuple[int, int]) -> Floats:
    resized = cv2.resize(values, size, interpolation=cv2.INTER_LINEAR)
    return np.asarray(resized, dtype=np.float32).reshape(size[1], size[0], *values.shape[2:])


def restore(pixels: Pixels, mark: Watermark) -> Pixels:
    """Remove ``mark`` from one image (any layout; alpha channel kept as it is)."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    x0, y0, x1, y1 = mark.crop.pixels_box((width, height))
    x1, y1 = min(width, x1), min(height, y1)
    size = (x1 - x0, y1 - y0)
    count = channels(pixels)
    colour_channels = count - 1 if count in (2, 4) else count
    region = np.ascontiguousarray(
        pixels[y0:y1, x0:x1, :colour_channels] if count > 1 else pixels[y0:y1, x0:x1]
    )
    if region.ndim == 2:
        region = region[:, :, None]
    colour = _full_size(mark.colours(), size)
    if is_gray(pixels):
        colour = np.asarray(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), np.float32)[:, :, None]
    # Inpainted: every pixel that touches an opaque working pixel (resizing the 0/1 map
    # keeps its rim, where interpolated alpha would un-blend an opaque mark).
    opaque = (mark.alpha > INVERT_MAX).astype(np.float32)
    touched = cv2.resize(opaque, size, interpolation=cv2.INTER_LINEAR)
    hard = np.where(np.asarray(touched) > 0, np.uint8(255), np.uint8(0))
    result = restore_region(region, _full_size(mark.alpha, size), colour, hard)
    out = pixels.copy()
    if count == 1:
        out[y0:y1, x0:x1] = result[:, :, 0]
    else:
        out[y0:y1, x0:x1, :colour_channels] = result
    return as_pixels(out)


def restore_region(region: Pixels, alpha: Floats, colour: Floats, hard: Mask) -> Pixels:
    """``region`` (H x W x C) with the mark un-blended where it is semi-transparent and
    inpainted where ``hard`` (255) marks it opaque."""
    observed = region.astype(np.float32)
    soft = (alpha > ALPHA_FAINT) & (hard == 0)
    restored = np.where(soft[:, :, None], unblend(observed, alpha, colour), observed)
    result = np.where(soft[:, :, None], np.clip(restored + 0.5, 0, 255), observed)
    out = result.astype(np.uint8)
    if hard.any():
        out = np.asarray(cv2.inpaint(out, hard, 3, cv2.INPAINT_TELEA), np.uint8).reshape(out.shape)
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
    colours = cv2.resize(mark.colours(), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    colour = np.asarray(colours, dtype=np.float32)[hard]
    if count >= 3:
        values = region[:, :, :3][hard].astype(np.float32)
    else:
        values = (region if count == 1 else region[:, :, 0])[hard].astype(np.float32)[:, None]
        colour = colour.mean(axis=1, keepdims=True)
    return float(np.median(np.abs(values - colour).max(axis=1)))
