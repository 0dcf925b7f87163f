"""Batch watermark estimation: alpha and colour of the mark the images share.

From three images on, ``batch_matting`` solves alpha and colour per pixel around the
surely marked pixels (the detection's core), and each connected part of its matte is
kept only when restoring it (un-blended where semi-transparent, inpainted where opaque)
removes most of the edge energy where the mark steps, over all the images, and adds some
to none (a coincidence of a few photos' content passes for a mark in the matte, never in
this check); where the images stop differing at all, the mark is opaque. Nothing left
means ``images_too_different``.

Two images cannot separate a blend from the content: after Dekel et al. much simplified,
inpainting the candidate area estimates I in both, regressing it on J gives one colour W,
then a per-pixel alpha with W fixed, a level per part tuned on the edge energy; what no
blend explains is inpainted. The check: a real mark of opacity a shrinks the differences
between the images by (1 - a), so parts whose spread across the images is not clearly
below that of their surroundings are dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .batch_detect import UNBLEND_IMAGES
from .batch_matting import Matte, grow, matte
from .batch_restore import (
    ALPHA_FAINT,
    ALPHA_MIN,
    INVERT_MAX,
    Crop,
    Floats,
    Watermark,
    restore_region,
    unblend,
)
from .decoding import Source, decode
from .erase_support import visible_bgr
from .errors import ImageError
from .masks import Mask
from .phases import phase
from .pixels import Pixels

CROP_PIXELS: Final = 2_000_000  # cap of one crop of the mark's area
STACK_PIXELS: Final = 40_000_000  # cap of all crops together
MATTE_PIXELS: Final = 6_000_000  # cap of the images' pixels the matting works on
_MATTE_IMAGES: Final = 12  # images the matting and its check use, at most
_MARGIN: Final = 8  # working pixels around the candidate area
_TUNE_IMAGES: Final = 8
_GOOD_FIT: Final = 0.6
_MIN_GAIN: Final = 0.2
_SHARED_SPREAD: Final = 0.92  # the whole mark, any opacity
_HARD_SPREAD: Final = 0.3  # a part to inpaint (opaque)
_RING: Final = 6
_MIN_MARK: Final = 64  # working pixels; less is noise, not a watermark
_TUNE_STEPS: Final = np.arange(-0.12, 0.121, 0.01)
# A matted mark with this share of its pixels above alpha _STRONG is estimated by parts.
_STRONG_SHARE: Final = 0.13
_STRONG: Final = 0.6
_REACH: Final = 3  # working pixels the matting may reach past the candidate area
_MIN_PART: Final = 12  # working pixels: a smaller part of the matte is noise
_PART_RATIO: Final = 0.8  # a part's un-blending keeps at most this share of its edges
_PART_WORST: Final = 1.05  # ... and adds edges to no image
_OPAQUE_FROM: Final = 0.5  # alpha from which a pixel may be found opaque ...
_STILL: Final = 0.1  # ... when the images' differences there are this share of around
_LARGE_PART: Final = 150  # working pixels where a part steps (alpha changes > _STEP)
_SMALL_PART_RATIO: Final = 0.6  # ... below that, the share of edges it may keep
_STEP: Final = 0.05
_SLACK: Final = 4.0  # ... beyond noise (Sobel |gx| + |gy| per outline pixel)


def _crop_for(candidate: Mask, count: int, reference: tuple[int, int]) -> Crop:
    height, width = candidate.shape
    x, y, w, h = cv2.boundingRect(candidate)
    x0, y0 = max(0, x - _MARGIN), max(0, y - _MARGIN)
    x1, y1 = min(width, x + w + _MARGIN), min(height, y + h + _MARGIN)
    box = (x0 / width, y0 / height, x1 / width, y1 / height)
    full_w = (box[2] - box[0]) * reference[0]
    full_h = (box[3] - box[1]) * reference[1]
    limit = min(CROP_PIXELS, STACK_PIXELS // count)
    scale = min(1.0, math.sqrt(limit / max(1.0, full_w * full_h)))
    return Crop(box, (max(8, round(full_w * scale)), max(8, round(full_h * scale))))


def estimate(
    sources: Sequence[Source], candidate: Mask, core: Mask, progress: Callable[[float], None]
) -> list[Watermark]:
    """The shared mark's candidate estimates, the likeliest first (more than one only
    for a strong mark; see below). Raises ``images_too_different`` when there is none."""
    crop = _crop_for(candidate, len(sources), sources[0].size)
    cw, ch = crop.size
    stack = np.empty((len(sources), ch, cw, 3), dtype=np.uint8)
    for index, source in enumerate(sources):
        with phase("decode"):
            pixels = visible_bgr(decode(source))
        x0, y0, x1, y1 = crop.pixels_box((int(pixels.shape[1]), int(pixels.shape[0])))
        stack[index] = cv2.resize(pixels[y0:y1, x0:x1], crop.size, interpolation=cv2.INTER_AREA)
        del pixels
        progress(0.8 * (index + 1) / len(sources))
    region = _region_on_crop(candidate, crop)
    sure = _region_on_crop(core, crop) > 0
    if len(stack) >= UNBLEND_IMAGES:
        matted = _matted(stack, sure)
        if matted is None:
            # (the older estimate below, tried here too, found marks in clean photos)
            raise ImageError(
                "images_too_different",
                "No watermark shared by these images was found; they may carry it at "
                "different places, or not at all.",
            )
        progress(1.0)
        joint = Watermark(crop, *matted)
        if np.mean(matted[0][matted[0] > ALPHA_MIN] > _STRONG) < _STRONG_SHARE:
            return [joint]
        # A strong mark (letters near opaque, a shadow) leaves little to un-blend, and the
        # per-pixel matting is unstable there: one colour and a level per part, tuned on
        # the edges, restores it better when it fits (docs/erase-quality.md).
        with contextlib.suppress(ImageError):
            return [_by_parts(stack, crop, region, sure), joint]
        return [joint]
    progress(1.0)
    return [_by_parts(stack, crop, region, sure)]


def _by_parts(
    stack: NDArray[np.uint8], crop: Crop, region: Mask, sure: NDArray[np.bool_]
) -> Watermark:
    """One colour, and an opacity level per connected part tuned on the edges; with two
    images, or for a strong mark."""
    colour, reliable = _colour(stack, region)
    # Two images cannot separate a blend from the content reliably: inpaint instead.
    reliable = reliable and len(stack) >= UNBLEND_IMAGES
    alpha = np.zeros(region.shape, dtype=np.float32)
    if reliable:
        alpha = _alpha(stack, region, colour)
        mask = _clean(alpha > ALPHA_MIN) & (region > 0)
        if mask.sum() >= 4:
            # Again on the tight mask: the inpainted estimate of the clean images is better.
            tight = cv2.dilate(mask.astype(np.uint8) * np.uint8(255), np.ones((3, 3)))
            alpha = _levels(stack, _alpha(stack, np.asarray(tight, np.uint8), colour), mask, colour)
    # Where no blend explains the mark, the consensus area is inpainted.
    covered = cv2.dilate((alpha > ALPHA_MIN).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    missed = cv2.dilate((sure & ~covered).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    alpha[missed & ~covered] = 1.0
    alpha = _keep_shared(alpha, _spread(stack))
    if not (alpha > ALPHA_MIN).any():
        raise ImageError(
            "images_too_different",
            "No watermark shared by these images was found; they may carry it at different "
            "places, or not at all.",
        )
    return Watermark(crop, alpha, colour)


def _matted(stack: NDArray[np.uint8], sure: NDArray[np.bool_]) -> tuple[Floats, Floats] | None:
    """Alpha and per-pixel colour by multi-image matting (``batch_matting``) around the
    surely marked pixels, the parts it finds verified on every image; None when no part
    is left."""
    stack = _chosen(stack)
    found = _matte_capped(stack, grow(sure, _REACH))
    alpha = np.where(found.alpha > ALPHA_FAINT, found.alpha, 0.0).astype(np.float32)
    spread = _spread(stack)
    # A mark of alpha a leaves (1 - a) of the images' differences: where they are all
    # but gone the mark is opaque there, whatever the integration made of it (inside a
    # thick opaque stroke nothing measures the level).
    free = (alpha <= ALPHA_FAINT) & grow(alpha > ALPHA_MIN, 2 * _RING)
    if free.any():
        typical = float(np.median(spread[free]))
        opaque = (alpha > _OPAQUE_FROM) & (spread < _STILL * _STILL * typical)
        alpha[opaque] = np.float32(1.0)
    alpha = _keep_shared(_verified_parts(stack, alpha, found.colour), spread)
    if not (alpha > ALPHA_MIN).any():
        return None
    return alpha, found.colour


def _chosen(stack: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """At most ``_MATTE_IMAGES`` of the images, spread over them in an order of their
    content (so which are chosen does not depend on the order they came in)."""
    if len(stack) <= _MATTE_IMAGES:
        return stack
    keys = [hashlib.blake2b(image.tobytes(), digest_size=8).digest() for image in stack]
    order = sorted(range(len(stack)), key=lambda index: keys[index])
    picked = sorted(order[round(i * len(order) / _MATTE_IMAGES)] for i in range(_MATTE_IMAGES))
    return stack[picked]


def _matte_capped(stack: NDArray[np.uint8], region: NDArray[np.bool_]) -> Matte:
    """``matte`` on at most ``MATTE_PIXELS`` image pixels (the stack reduced if need be,
    its result brought back to the crop's size): its working arrays are a few float
    copies of the stack."""
    count, height, width = stack.shape[:3]
    scale = math.sqrt(MATTE_PIXELS / (count * height * width))
    if scale >= 1:
        return matte(stack, region)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = np.stack([cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in stack])
    reduced = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    found = matte(small, np.asarray(reduced))
    alpha = cv2.resize(found.alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    colour = cv2.resize(found.colour, (width, height), interpolation=cv2.INTER_LINEAR)
    support = cv2.resize(found.support, (width, height), interpolation=cv2.INTER_LINEAR)
    return Matte(
        np.asarray(alpha, np.float32),
        np.asarray(colour, np.float32),
        np.asarray(support, np.float32),
    )


def _verified_parts(stack: NDArray[np.uint8], alpha: Floats, colour: Floats) -> Floats:
    """Keep the parts of the matte whose restoration removes the edges along their
    outline and adds edges to no image. A part of a shared mark does (where it lies on a
    patch of its own colour it shows no edge to remove); a coincidence of a few images'
    content, which few images cannot tell from a mark, adds an inverted edge to the
    others."""
    hard = np.where(alpha > INVERT_MAX, np.uint8(255), np.uint8(0))
    hard = np.asarray(cv2.dilate(hard, np.ones((3, 3), np.uint8)), dtype=np.uint8)
    restored = [restore_region(image, alpha, colour, hard).astype(np.float32) for image in stack]
    energy = [
        (_edge_map(image.astype(np.float32)), _edge_map(fixed))
        for image, fixed in zip(stack, restored, strict=True)
    ]
    # where the mark changes, by how much: its edges, fringes and ramps
    steps = np.hypot(
        cv2.Sobel(alpha, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(alpha, cv2.CV_32F, 0, 1, ksize=3)
    ).astype(np.float32)
    marked = grow(alpha > ALPHA_MIN, 1).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
    out = np.zeros_like(alpha)
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < _MIN_PART:
            continue
        box = (slice(max(0, y - 2), y + h + 2), slice(max(0, x - 2), x + w + 2))
        part = labels[box] == label
        if _removes(energy, box, np.where(grow(part, 1), steps[box], 0.0)):
            out[box][part] = alpha[box][part]
    return out


def _removes(energy: list[tuple[Floats, Floats]], box: tuple[slice, slice], weight: Floats) -> bool:
    """Whether restoring removes most of the edge energy where the mark steps (``weight``)
    over all the images, and adds some to none of them."""
    worse, total_before, total_after = False, 0.0, 0.0
    slack = _SLACK * float(weight.sum())  # a flat patch (a dark shadow on a night sky)
    for before_map, after_map in energy:
        before = float((before_map[box] * weight).sum())
        after = float((after_map[box] * weight).sum())
        worse |= after > _PART_WORST * before + slack
        total_before += before
        total_after += after
    ratio = total_after / max(total_before, 1e-6)
    # A small part must be clearly removed: a few images' content agrees by chance on
    # small shapes far more often than on a mark's whole outline.
    large = int((weight > _STEP).sum()) >= _LARGE_PART
    return ratio <= (_PART_RATIO if large else _SMALL_PART_RATIO) and not worse


def _edge_map(image: Floats) -> Floats:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return np.asarray(np.abs(gx) + np.abs(gy), dtype=np.float32)


def _spread(stack: NDArray[np.uint8]) -> Floats:
    """Per-pixel variance across the images (summed over channels)."""
    total = np.zeros(stack.shape[1:], dtype=np.float32)
    squares = np.zeros_like(total)
    for image in stack:
        values = image.astype(np.float32)
        total += values
        squares += values * values
    mean = total / len(stack)
    return np.asarray((squares / len(stack) - mean * mean).sum(axis=2), dtype=np.float32)


def _keep_shared(alpha: Floats, spread: Floats) -> Floats:
    """Drop what is not a shared mark. A mark of opacity a shrinks the images'
    differences by (1 - a), so its spread across the images is well below the spread
    just around it; content that the detectors merely agreed on by chance is not. The
    whole mark is checked as one; in parts to inpaint, pixel by pixel."""
    marked = alpha > ALPHA_MIN
    if not marked.any() or _spread_ratio(marked, marked, spread) > _SHARED_SPREAD:
        return np.zeros_like(alpha)
    out = alpha.copy()
    hard = (alpha >= 1.0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hard, connectivity=8)
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        box = (slice(max(0, y - _RING), y + h + _RING), slice(max(0, x - _RING), x + w + _RING))
        part = labels[box] == label
        ring = cv2.dilate(part.astype(np.uint8), np.ones((2 * _RING + 1,) * 2, np.uint8)) > 0
        ring &= ~marked[box]
        if not ring.any():
            continue
        around = float(np.median(spread[box][ring]))
        shared = part & (spread[box] < _HARD_SPREAD * around)
        shared = (
            cv2.morphologyEx(shared.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
            > 0
        )
        shared = _clean(shared & part)
        # with the anti-aliased rim of what is kept
        rim = cv2.dilate(shared.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        out[box][part & ~shared] = 0.0
        out[box][rim & ~marked[box]] = 1.0
    if int((out > ALPHA_MIN).sum()) < _MIN_MARK:
        return np.zeros_like(alpha)
    return out


def _spread_ratio(part: NDArray[np.bool_], marked: NDArray[np.bool_], spread: Floats) -> float:
    ring = cv2.dilate(part.astype(np.uint8), np.ones((2 * _RING + 1,) * 2, np.uint8)) > 0
    ring &= ~marked
    if not ring.any():
        return 0.0
    around = float(np.median(spread[ring]))
    return float(np.median(spread[part])) / max(around, 1e-3)


def _region_on_crop(candidate: Mask, crop: Crop) -> Mask:
    height, width = candidate.shape
    x0, y0, x1, y1 = crop.pixels_box((width, height))
    part = candidate[y0:y1, x0:x1]
    resized = cv2.resize(part, crop.size, interpolation=cv2.INTER_LINEAR)
    return np.where(np.asarray(resized) > 0, np.uint8(255), np.uint8(0))


def _clean(marked: NDArray[np.bool_], smallest: int = 4) -> NDArray[np.bool_]:
    """Drop isolated specks (noise of the alpha estimate)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        marked.astype(np.uint8), connectivity=8
    )
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= smallest
    return np.asarray(keep[labels], dtype=bool)


def _inpainted(image: Pixels, region: Mask) -> Floats:
    filled = cv2.inpaint(image, region, 3, cv2.INPAINT_TELEA)
    return np.asarray(filled, dtype=np.float32)


def _colour(stack: NDArray[np.uint8], region: Mask) -> tuple[Floats, bool]:
    """The mark's colour (per-pixel regressions of inpainted on observed, pooled), and
    whether enough pixels agree on it to un-blend."""
    count = len(stack)
    sum_j = np.zeros(stack.shape[1:], dtype=np.float32)
    sum_i = np.zeros_like(sum_j)
    sum_jj = np.zeros_like(sum_j)
    sum_ji = np.zeros_like(sum_j)
    sum_ii = np.zeros_like(sum_j)
    for image in stack:
        observed = image.astype(np.float32)
        estimate = _inpainted(image, region)
        sum_j += observed
        sum_i += estimate
        sum_jj += observed * observed
        sum_ji += observed * estimate
        sum_ii += estimate * estimate
    mean_j, mean_i = sum_j / count, sum_i / count

    def pooled(values: NDArray[np.floating[Any]]) -> Floats:
        return np.asarray(cv2.boxFilter(values.sum(axis=2), -1, (3, 3)), dtype=np.float32)

    cov = pooled(sum_ji / count - mean_j * mean_i)
    var = pooled(sum_jj / count - mean_j * mean_j)
    var_i = pooled(sum_ii / count - mean_i * mean_i)
    # How well a line explains the pairs; pixels where it does not say nothing of W.
    fit = cov * cov / np.maximum(var * var_i, 1e-3)
    slope = cov / np.maximum(var, 1e-3)  # 1 / (1 - alpha)
    alpha = 1 - 1 / np.maximum(slope, 1e-3)
    intercept = mean_i - slope[:, :, None] * mean_j  # -alpha * W / (1 - alpha)
    colour = -intercept / np.maximum(slope - 1, 1e-3)[:, :, None]
    usable = (region > 0) & (alpha > 0.15) & (alpha < 0.97) & (fit > _GOOD_FIT)
    # An opaque mark: pixels that are the same colour in every image.
    still = (region > 0) & (var < 3 * 3 * 3)
    if still.sum() >= max(8, int(usable.sum())):
        colour = np.median(stack[:, still].reshape(-1, 3), axis=0)
        return np.asarray(colour, dtype=np.float32), True
    if usable.sum() < 8:
        return np.zeros(3, dtype=np.float32), False
    agreed = np.clip(np.median(colour[usable], axis=0), 0, 255)
    return np.asarray(agreed, dtype=np.float32), True


def _alpha(stack: NDArray[np.uint8], region: Mask, colour: Floats) -> Floats:
    """Per-pixel alpha with the colour fixed: J - W = (1 - a)(I - W), fitted over the
    images and channels, the inpainted image standing in for I (regressed on J, because
    J is exact and the estimate of I is the noisy one)."""
    s_jj = np.zeros(stack.shape[1:3], dtype=np.float32)
    s_ji = np.zeros_like(s_jj)
    for image in stack:
        observed = image.astype(np.float32) - colour
        estimate = _inpainted(image, region) - colour
        s_jj += (observed * observed).sum(axis=2)
        s_ji += (observed * estimate).sum(axis=2)
    # 1 - alpha; J equal to W in every image (s_jj ~ 0) is an opaque mark.
    keep = np.where(s_ji > 1e-3, s_jj / np.maximum(s_ji, 1e-3), np.where(s_jj < 1.0, 0.0, 1.0))
    alpha = np.clip(1 - keep, 0, 1) * (region > 0)
    return np.asarray(alpha, dtype=np.float32)


def _levels(
    stack: NDArray[np.uint8], alpha: Floats, mask: NDArray[np.bool_], colour: Floats
) -> Floats:
    """Alpha as level x shape per connected part, the level tuned on the edge energy."""
    out = np.zeros_like(alpha)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), dtype=np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), dtype=np.uint8)) > 0
    sample = stack[:: max(1, len(stack) // _TUNE_IMAGES)][:_TUNE_IMAGES]
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        box = (slice(max(0, y - 2), y + h + 2), slice(max(0, x - 2), x + w + 2))
        part = (labels[box] == label) & mask[box]
        core = part & inner[box]
        values = alpha[box][core if core.sum() >= 4 else part]
        level = float(np.median(values)) if values.size else 0.0
        if level <= ALPHA_MIN:
            continue
        shape = np.clip(alpha[box] / level, 0, 1) * part
        if level < INVERT_MAX:
            level, gain = _tune(sample[:, box[0], box[1]], shape, level, colour)
        if level >= INVERT_MAX or gain < _MIN_GAIN:
            # Opaque, or un-blending does not remove the mark's edges: inpaint the part
            # and its anti-aliased rim.
            rim = cv2.dilate(part.astype(np.uint8), np.ones((3, 3), dtype=np.uint8)) > 0
            out[box] = np.maximum(out[box], np.where(rim, 1.0, 0.0).astype(np.float32))
        else:
            out[box] = np.maximum(out[box], level * shape)
    return out


def _tune(
    stack: NDArray[np.uint8], shape: Floats, level: float, colour: Floats
) -> tuple[float, float]:
    """The level whose un-blending leaves the least gradient energy around the mark, and
    the share of the untouched images' edge energy that it removes."""
    band = cv2.dilate((shape > 0).astype(np.uint8), np.ones((5, 5), dtype=np.uint8)) > 0

    def energy(value: float) -> float:
        total = 0.0
        for image in stack:
            restored = unblend(image.astype(np.float32), value * shape, colour)
            gray = cv2.cvtColor(restored, cv2.COLOR_BGR2GRAY)
            gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
            total += float((np.abs(gx) + np.abs(gy))[band].sum())
        return total

    best = (math.inf, level)
    for step in _TUNE_STEPS:
        candidate = level + float(step)
        if 0.02 <= candidate <= INVERT_MAX:
            best = min(best, (energy(candidate), candidate))
    untouched = energy(0.0)
    gain = 1 - best[0] / untouched if untouched > 0 else 0.0
    return best[1], gain
