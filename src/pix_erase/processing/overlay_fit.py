"""How well an overlay explains what the text detector found, and how far it reaches.

A watermark is an overlay: J = a C + (1 - a) I, one opacity a and colour C over the
photo I. ``credibility`` fits that model to detected strokes against a fill of the photo
around them (photo detail follows no single blend); ``grow_overlay`` extends strokes into
the drop shadow, outline or glow that the same kind of blend explains next to them.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .erase_support import scaled
from .masks import Mask
from .pixels import Pixels

Floats = NDArray[np.float32]

REFINE_SIDE: Final = 48  # boxes taller than this are worked on a reduced copy
_LARGE_LINE: Final = 3  # credibility reduces lines taller than this many REFINE_SIDEs
_SHADOW_REACH: Final = 0.25  # how far a shadow or glow may reach, in box heights
_SHADOW_ALPHA: Final = 0.08  # the least opacity of a shadow or glow pixel
_SHADOW_CONTRAST: Final = 10.0  # and the least difference from the fill (0-255)
_CHANNEL_AGREE: Final = 0.08  # spread of the per-channel opacity estimates
_SHADOW_SHARE: Final = 0.08  # the least share of the band a shadow or glow covers
_SHADOW_COVER: Final = 0.3  # how well a moved copy of the strokes explains a shadow


def _fill_around(
    bgr: Pixels,
    box: tuple[int, int, int, int],
    hole: Mask,
    pad: int,
    *,
    reduce: bool = False,
    side: int = REFINE_SIDE,
) -> tuple[Floats, Floats, tuple[slice, slice]]:
    """(observed, Telea fill of ``hole``) as floats on the box padded by ``pad``, and the
    slices of the box inside that padded crop. ``hole`` is on the box. With ``reduce``, a
    box taller than ``side`` is filled on a copy reduced to that height (a fill is
    smooth; Telea's cost grows with the hole's pixels) and the fill brought back up."""
    height, width = bgr.shape[:2]
    x0, y0, x1, y1 = box
    px0, py0 = max(0, x0 - pad), max(0, y0 - pad)
    px1, py1 = min(width, x1 + pad), min(height, y1 + pad)
    crop = np.ascontiguousarray(bgr[py0:py1, px0:px1])
    inner = (slice(y0 - py0, y1 - py0), slice(x0 - px0, x1 - px0))
    full = np.zeros(crop.shape[:2], dtype=np.uint8)
    full[inner] = hole
    scale = min(1.0, side / max(1, y1 - y0)) if reduce else 1.0
    if scale < 1.0:
        small = scaled(crop, scale)
        size = (int(small.shape[1]), int(small.shape[0]))
        reduced = cv2.resize(full, size, interpolation=cv2.INTER_AREA)
        hole_small = np.where(np.asarray(reduced) > 0, np.uint8(255), np.uint8(0))
        fill_small = cv2.inpaint(small, hole_small, 3, cv2.INPAINT_TELEA)
        back = cv2.resize(
            fill_small, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR
        )
        filled = np.where(full[:, :, None] > 0, np.asarray(back), crop)
    else:
        filled = cv2.inpaint(crop, full, 3, cv2.INPAINT_TELEA)
    return crop.astype(np.float32), np.asarray(filled, dtype=np.float32), inner


def credibility(bgr: Pixels, box: tuple[int, int, int, int], strokes: Mask) -> float:
    """How well one overlay explains the strokes: J = a C + (1 - a) F over their inner
    pixels (F the fill of the photo around them), fitted per channel with one a and C;
    1 - (fit error / contrast). Near 1 for a mark (its error is the fill's), low for
    photo detail, whose pixels follow no single blend of the fill."""
    hole = np.asarray(cv2.dilate(strokes, np.ones((3, 3), np.uint8)), dtype=np.uint8)
    pad = max(6, (box[3] - box[1]) // 2)
    # A line many times taller than the refinement's scale (a big picture) is filled on
    # a reduced copy: Telea's cost grows with the hole, and the fit needs no more.
    large = box[3] - box[1] > _LARGE_LINE * REFINE_SIDE
    observed, filled, inner = _fill_around(
        bgr, box, hole, pad, reduce=large, side=_LARGE_LINE * REFINE_SIDE
    )
    core = np.asarray(cv2.erode(strokes, np.ones((3, 3), np.uint8)), dtype=np.uint8) > 0
    if core.sum() < 20:
        core = strokes > 0
    j = observed[inner][core]
    f = filled[inner][core]
    errors = []
    for channel in range(3):
        design = np.stack([f[:, channel], np.ones(len(f), dtype=np.float32)], axis=1)
        coef, *_ = np.linalg.lstsq(design, j[:, channel], rcond=None)
        coef[0] = np.clip(coef[0], 0.0, 1.0)  # 1 - a
        residual = j[:, channel] - design @ coef
        errors.append(float(np.sqrt(np.mean(residual * residual))))
    contrast = float(np.abs(j - f).mean())
    return 1.0 - float(np.mean(errors)) / max(contrast, 1.0)


def grow_overlay(bgr: Pixels, box: tuple[int, int, int, int], strokes: Mask, short: float) -> Mask:
    """``strokes`` grown into what around them the overlay explains better than the
    photo: a drop shadow, an outline, a glow. A pixel of the band around the strokes
    joins when it differs from a fill of the photo (the band is filled from outside it)
    the way a blend with black or white does: J = (1 - a) F or J = F + a (255 - F) with
    one a for every channel; only where the strokes' own shape, moved by one offset and
    softened, predicts it (a drop shadow or glow repeats the letters; the photo's dark
    features near them do not), when such pixels fill most of that prediction; and only
    when it touches what is already marked. Twice, so the second fill no longer sees the
    shadow found by the first."""
    reach = max(2, round(short * _SHADOW_REACH))
    pad = reach + 3
    mask = strokes.copy()
    bright: bool | None = None
    predicted: NDArray[np.bool_] | None = None
    for _ in range(2):
        band_size = 2 * reach + 1
        hole = np.asarray(
            cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (band_size,) * 2)),
            dtype=np.uint8,
        )
        observed, filled, inner = _fill_around(bgr, box, hole, pad, reduce=True)
        j, f = observed[inner], filled[inner]
        if bright is None:
            # A shadow is darker than the photo under bright letters, a glow lighter
            # around dark ones: only the opposite polarity is grown.
            bright = float((j - f)[strokes > 0].mean()) > 0
        band = (hole > 0) & (mask == 0)
        if bright:
            keep = j / np.maximum(f, 1.0)  # 1 - a of a black overlay
            fits = (keep.std(axis=2) < _CHANNEL_AGREE) & (keep.mean(axis=2) < 1 - _SHADOW_ALPHA)
        else:
            alpha = (j - f) / np.maximum(255.0 - f, 1.0)  # a of a white overlay
            fits = (alpha.std(axis=2) < _CHANNEL_AGREE) & (alpha.mean(axis=2) > _SHADOW_ALPHA)
        strong = np.abs(j - f).max(axis=2) > _SHADOW_CONTRAST
        candidate = band & strong & fits
        # A shadow or glow covers a good part of the band; a few scattered pixels are
        # the photo's own detail.
        if candidate.sum() < _SHADOW_SHARE * band.sum():
            break
        if predicted is None:
            predicted = _shadow_region(strokes, candidate, band, reach)
            if predicted is None:
                break
        candidate &= predicted
        joined = (candidate | (mask > 0)).astype(np.uint8)
        count, labels = cv2.connectedComponents(joined, connectivity=8)
        touching = np.zeros(count, dtype=bool)
        touching[np.unique(labels[mask > 0])] = True
        touching[0] = False
        added = touching[labels] & candidate
        if not added.any():
            break
        mask = np.where(added | (mask > 0), np.uint8(255), np.uint8(0))
    if (mask == strokes).all():
        return mask
    # the anti-aliased rim of what was added
    return np.asarray(cv2.dilate(mask, np.ones((3, 3), np.uint8)), dtype=np.uint8)


def _shadow_region(
    strokes: Mask, candidate: NDArray[np.bool_], band: NDArray[np.bool_], reach: int
) -> NDArray[np.bool_] | None:
    """Where the strokes' shadow (or glow) would be: the strokes moved by the offset
    (within ``reach``) whose softened copy best both holds the ``candidate`` pixels and is
    filled by them (the product of the two shares, at least ``_SHADOW_COVER``); None when
    no offset explains the candidates."""
    soft = max(3, (reach // 2) | 1)
    spread = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (soft, soft))
    base = np.asarray(cv2.dilate(strokes, spread), dtype=np.uint8) > 0
    height, width = base.shape
    step = max(1, reach // 4)
    best: tuple[float, NDArray[np.bool_] | None] = (0.0, None)
    total = max(1.0, float(candidate.sum()))
    for dy in range(-reach, reach + 1, step):
        for dx in range(-reach, reach + 1, step):
            moved = np.zeros_like(base)
            moved[max(0, dy) : height + min(0, dy), max(0, dx) : width + min(0, dx)] = base[
                max(0, -dy) : height + min(0, -dy), max(0, -dx) : width + min(0, -dx)
            ]
            region = moved & band
            size = int(region.sum())
            if size == 0:
                continue
            # A shadow explains the candidates (most of them lie in it) and fills it.
            hits = float((candidate & region).sum())
            score = (hits / size) * (hits / total)
            if score > best[0]:
                best = (score, region)
    score, chosen = best
    return chosen if score >= _SHADOW_COVER else None
