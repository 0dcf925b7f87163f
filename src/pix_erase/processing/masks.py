"""Erase masks from what a user gives: rectangles, brush strokes or a mask image.

A mask is a ``uint8`` array of the image's height x width: 255 marks a pixel to erase,
0 keeps it. Sizes are (width, height), as everywhere in this package.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from .decoding import decode, open_source
from .errors import ImageError
from .pixels import Pixels, channels, has_translucency, size_of

Mask = NDArray[np.uint8]
Point = tuple[float, float]
Stroke = tuple[Sequence[Point], float]  # (points, radius in pixels)
Rect = tuple[int, int, int, int]  # (x, y, width, height)

# cv2 draws with fixed-point coordinates: 4 fractional bits place a stroke to 1/16 pixel.
_SHIFT = 4
_ONE = 1 << _SHIFT
# A mask file is one image of the source's size; its own pixel limit is that size.
_NO_LIMIT = 1 << 62


def mask_from_rects(size: tuple[int, int], rects: Sequence[Rect]) -> Mask:
    """Rectangles (x, y, width, height), clipped to the image; 255 inside any of them."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.uint8)
    for x, y, w, h in rects:
        left, top = max(0, x), max(0, y)
        right, bottom = min(width, x + w), min(height, y + h)
        if right > left and bottom > top:
            mask[top:bottom, left:right] = 255
    return mask


def mask_from_strokes(size: tuple[int, int], strokes: Sequence[Stroke]) -> Mask:
    """Brush strokes: each a polyline of points drawn ``radius`` pixels wide on each side,
    with round caps and joins (a single point is a dot)."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.uint8)
    for points, radius in strokes:
        if not points or not radius > 0:
            continue
        fixed = [(round(x * _ONE), round(y * _ONE)) for x, y in points]
        dot = max(1, round(radius * _ONE))
        for point in fixed:
            cv2.circle(mask, point, dot, 255, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
        thickness = max(1, math.ceil(2 * radius))
        for start, end in itertools.pairwise(fixed):
            cv2.line(mask, start, end, 255, thickness=thickness, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask


def mask_from_png(data: bytes, size: tuple[int, int]) -> Mask:
    """A mask image (PNG, or any format we read) of exactly ``size`` (displayed, after EXIF
    orientation). Marked pixels: alpha > 0 when the image has transparency (a brush painted
    on a clear layer), otherwise any non-black pixel (white on black).

    Raises ImageError mask_size_mismatch (before decoding), empty_mask, and the decoding
    errors (unsupported_format, corrupt_image).
    """
    pixels = read_mask_image(data, size)
    marked: NDArray[np.bool_]
    if has_translucency(pixels):
        marked = pixels[:, :, -1] > 0
    elif channels(pixels) == 1:
        marked = pixels > 0
    else:
        colour = pixels[:, :, : (1 if channels(pixels) == 2 else 3)]
        marked = np.asarray((colour > 0).any(axis=2))
    mask = np.where(marked, np.uint8(255), np.uint8(0))
    require_marked(mask)
    assert size_of(mask) == size
    return mask


def read_mask_image(data: bytes, size: tuple[int, int]) -> Pixels:
    """Decode a mask or hint image, refusing (before decoding) one not of ``size``."""
    source = open_source(data, max_pixels=_NO_LIMIT)
    if source.size != size:
        raise ImageError(
            "mask_size_mismatch",
            f"The mask is {source.size[0]}x{source.size[1]} pixels; the image is "
            f"{size[0]}x{size[1]}. Draw the mask at the image's size.",
        )
    return decode(source)


def require_marked(mask: Mask) -> None:
    """Raise empty_mask when no pixel is marked."""
    if not mask.any():
        raise ImageError(
            "empty_mask", "The mask marks no pixel; paint or select the area to erase."
        )


def combine(size: tuple[int, int], parts: Sequence[Mask]) -> Mask:
    """The union of masks (all of ``size``); an all-zero mask when there are none."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.uint8)
    for part in parts:
        cv2.bitwise_or(mask, part, dst=mask)
    return mask
