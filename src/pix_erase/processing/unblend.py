"""Undo a semi-transparent overlay instead of inventing what was under it.

Where a mark of opacity a and colour C covers the photo, J = a C + (1 - a) I, so
I = (J - a C) / (1 - a) exactly: the photo's own detail comes back, which no inpainting
can do. Only the mark's anti-aliased rim has an opacity between 0 and a; there each
pixel's opacity is estimated from a fill of the rim (from the un-blended inside and the
untouched outside) and the pixel's own colour, then snapped to 0 or a when it is close.
The formula is the blend law itself; no library is needed beyond OpenCV's fill.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from .exemplar import diffusion_fill
from .masks import Mask
from .pixels import Pixels

Floats = NDArray[np.float32]
Bools = NDArray[np.bool_]

_SNAP = 0.12  # an estimated opacity within this share of 0 or a is taken as 0 or a
_CONTEXT = 6  # pixels of context around the rim for its fill
_TELEA_BUDGET = 250_000  # rim pixels filled by Telea; more by normalised convolution
_FILL_REDUCE = 4  # the normalised-convolution fill runs on a copy this many times smaller
_FILL_BOXES = (3, 9, 27, 81)


def unblend(
    pixels: Pixels, inside: Bools, alpha: float, colour: Floats, rim: int
) -> tuple[Pixels, Mask]:
    """``pixels`` (BGR or BGRA uint8, or gray) with the overlay (``alpha``, BGR
    ``colour``) removed from ``inside`` and from a rim ``rim`` pixels wide on both sides
    of its boundary; and the mask of the pixels it may have changed (255)."""
    out = pixels.copy()
    colour_planes, original = _planes(out), _planes(pixels)
    target = float(colour.mean()) if colour_planes.ndim == 2 else colour
    u8 = inside.astype(np.uint8)
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim + 1,) * 2)
    outer = np.asarray(cv2.dilate(u8, element), dtype=bool)
    core = np.asarray(cv2.erode(u8, element), dtype=bool)
    band = outer & ~core
    keep = 1.0 - alpha
    if core.any():
        values = colour_planes[core].astype(np.float32)
        restored = (values - alpha * target) / keep
        colour_planes[core] = np.clip(restored + 0.5, 0, 255).astype(np.uint8)
    if band.any():
        _rim(colour_planes, original, band, alpha, target)
    changed = np.where(outer, np.uint8(255), np.uint8(0))
    return out, changed


def _planes(pixels: Pixels) -> Pixels:
    """The colour planes of ``pixels`` as a view: BGR, or the gray plane."""
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] < 3:
        return pixels[:, :, 0]
    return pixels[:, :, :3]


def _smooth_fill(crop: Pixels, hole: Bools) -> Floats:
    """A fill of ``hole`` by normalised convolution (the known pixels averaged over a box,
    divided by the share of known pixels in it) at growing widths, on a copy reduced by
    ``_FILL_REDUCE`` and brought back up: a fill is smooth, and a tiled mark's rim on a
    big picture is millions of pixels, where Telea's cost grows with the hole."""
    height, width = hole.shape
    size = (max(1, width // _FILL_REDUCE), max(1, height // _FILL_REDUCE))
    known = (~hole).astype(np.float32)
    image = crop.astype(np.float32)
    weighted = image * (known[:, :, None] if image.ndim == 3 else known)
    small_total = cv2.resize(weighted, size, interpolation=cv2.INTER_AREA)
    small_known = cv2.resize(known, size, interpolation=cv2.INTER_AREA)
    fill = np.zeros_like(small_total)
    missing = np.ones(small_known.shape, dtype=bool)
    for box in _FILL_BOXES:
        total = cv2.blur(small_total, (box, box))
        amount = cv2.blur(small_known, (box, box))
        ready = missing & (amount > 1e-3)
        share = amount[ready]
        fill[ready] = total[ready] / (share[:, None] if fill.ndim == 3 else share)
        missing &= ~ready
        if not missing.any():
            break
    back = cv2.resize(fill, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(back, dtype=np.float32)


def _rim(
    planes: Pixels, original: Pixels, band: Bools, alpha: float, colour: Floats | float
) -> None:
    """Fill ``band`` of ``planes`` (whose inside is already un-blended): each pixel's
    opacity is estimated by projecting its colour on the line from C through a fill of
    the band, snapped to 0 or a when close, and the pixel un-blended with it."""
    ys, xs = np.nonzero(band)
    height, width = band.shape
    y0, y1 = max(0, int(ys.min()) - _CONTEXT), min(height, int(ys.max()) + _CONTEXT + 1)
    x0, x1 = max(0, int(xs.min()) - _CONTEXT), min(width, int(xs.max()) + _CONTEXT + 1)
    crop = np.ascontiguousarray(planes[y0:y1, x0:x1])
    hole = np.where(band[y0:y1, x0:x1], np.uint8(255), np.uint8(0))
    local = band[y0:y1, x0:x1]
    if int(np.count_nonzero(local)) <= _TELEA_BUDGET:
        fill = diffusion_fill(crop, hole).astype(np.float32)
    else:
        fill = _smooth_fill(crop, local)
    j = original[y0:y1, x0:x1][local].astype(np.float32)
    f = fill[local]
    if j.ndim == 1:
        j, f = j[:, None], f[:, None]
    c = np.asarray(colour, dtype=np.float32).reshape(1, -1)
    towards = f - c
    norm = (towards * towards).sum(axis=1)
    share = ((j - c) * towards).sum(axis=1) / np.maximum(norm, 1e-3)  # 1 - opacity
    estimate = np.clip(1.0 - share, 0.0, alpha)
    estimate = np.where(estimate <= _SNAP * alpha, 0.0, estimate)
    estimate = np.where(estimate >= (1 - _SNAP) * alpha, alpha, estimate)
    # Where the fill is close to C the opacity is not observable: keep the fill.
    unknown = norm < 64.0
    restored = (j - estimate[:, None] * c) / (1.0 - estimate[:, None])
    restored = np.where(unknown[:, None], f, restored)
    values = np.clip(restored + 0.5, 0, 255).astype(np.uint8)
    target = planes[y0:y1, x0:x1]
    target[local] = values if planes.ndim == 3 else values[:, 0]
