"""Batch watermark removal: learn one watermark from several images and remove it from each.

The images are assumed to carry the same mark at the same place relative to the image
(the same pixels when the sizes are equal; otherwise positions and the mark's size scale
with the image, as when one watermarked original is exported at several sizes). The mark
is estimated at the first image's scale; the returned mask has the first image's size.

1. Find it. Every image is reduced to one working size and stacked. The text detector
   and stroke refinement of ``watermark`` run on (up to 12 of) them and vote; the median
   of the images' signed gradients keeps only edges that all images share, and the
   strokes inside those edges are segmented on the per-pixel median image, where the
   mark stands on a blur of the images' content. Together: the candidate area.
2. Estimate alpha and colour (after Dekel et al., "On the effectiveness of visible
   watermarks", CVPR 2017, much simplified). A blended pixel is J = a W + (1 - a) I.
   Inpainting the candidate area estimates I in every image; regressing it on J across
   the images gives the colour W, then a per-pixel alpha with W fixed; the mask is where
   alpha is clearly above zero. In each connected part the opacity is one level times a
   per-pixel shape (anti-aliased edges), the level tuned so that the restored images show
   the least edge energy along the mark. A part whose un-blending does not remove its
   edges, or that is opaque, is inpainted instead; so is everything when there are only
   two images (two samples cannot separate a blend from the content).
3. Check it. A real mark of opacity a shrinks the differences between the images by
   (1 - a), so parts whose spread across the images is not clearly below that of their
   surroundings are dropped; nothing left means ``images_too_different``.
4. Remove it, at full resolution, one image at a time: where alpha <= ``INVERT_MAX`` the
   blend is inverted, I = W + (J - W) / (1 - a), which restores the real pixels instead of
   inventing them; the rest of the mask is inpainted (Telea).

Memory: the working stacks are N reduced images and N crops of the mark's area (capped at
``STACK_PIXELS`` in all); full-size images are decoded one at a time (three times each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .decoding import Source, decode, open_source
from .encoding import Encoded
from .erase_support import Progress, encode_like_source, encode_mask, visible_bgr
from .errors import ImageError
from .masks import Mask
from .phases import phase
from .pixels import Pixels, as_pixels, channels, colour_for, is_gray
from .watermark import detect_watermark, segment_rects

Floats = NDArray[np.float32]

LOW_SIDE: Final = 768  # working size of the whole-image stack (longer side)
CROP_PIXELS: Final = 2_000_000  # cap of one crop of the mark's area
STACK_PIXELS: Final = 40_000_000  # cap of all crops together
INVERT_MAX: Final = 0.9  # above this alpha the pixel is inpainted, not un-blended
ALPHA_MIN: Final = 0.08  # alpha below this is "no mark"
_MARGIN: Final = 8  # working pixels around the candidate area
_TUNE_IMAGES: Final = 8
_VOTE_IMAGES: Final = 12
_GOOD_FIT: Final = 0.6
_MIN_GAIN: Final = 0.2
_EDGE_BOXES: Final = 16
_UNBLEND_IMAGES: Final = 3
_EDGE_AREA: Final = 40
_SHARED_EDGE: Final = 0.25
_SHARED_SPREAD: Final = 0.8  # the whole mark, any opacity
_HARD_SPREAD: Final = 0.5  # a part to inpaint (opaque)
_RING: Final = 6
_MIN_MARK: Final = 64  # working pixels; less is noise, not a watermark
_TUNE_STEPS: Final = np.arange(-0.12, 0.121, 0.01)


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


def remove_shared_watermark(
    images: Sequence[bytes],
    *,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> tuple[list[Encoded], Encoded]:
    """Remove the watermark the ``images`` share; returns the results in input order and
    the shared mask as a PNG (255 = mark) at the size of the first image.

    Raises ImageError images_too_different (fewer than two images, or no shared mark
    found), and the decoding errors of any image.
    """
    if len(images) < 2:
        raise ImageError("images_too_different", "A shared watermark needs at least two images.")
    report = Progress(progress)
    sources = [open_source(data, max_pixels=max_pixels) for data in images]
    with phase("detect"):
        candidate, core = _candidate(sources, report.span(0.0, 0.3))
        mark = _estimate(sources, candidate, core, report.span(0.3, 0.6))
    results = []
    for index, source in enumerate(sources):
        with phase("decode"):
            pixels = decode(source)
        with phase("inpaint"):
            pixels = restore(pixels, mark)
        results.append(encode_like_source(source, pixels))
        report(0.6 + 0.38 * (index + 1) / len(sources))
    mask = shared_mask(mark, sources[0].size)
    encoded_mask = encode_mask(mask)
    report.finish()
    return results, encoded_mask


def _low_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, LOW_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _candidate(sources: Sequence[Source], progress: Callable[[float], None]) -> tuple[Mask, Mask]:
    """Where the shared mark may be (generous), and where it surely is (its core), on
    the reduced working size of the first image."""
    low = _low_size(sources[0].size)
    stack = np.empty((len(sources), low[1], low[0], 3), dtype=np.uint8)
    for index, source in enumerate(sources):
        with phase("decode"):
            pixels = visible_bgr(decode(source, at_least=low))
        stack[index] = cv2.resize(pixels, low, interpolation=cv2.INTER_AREA)
        progress((index + 1) / (len(sources) + 1))
    found = _detection_vote(stack)
    edges = _consensus_edges(stack)
    # Edges outline a mark; its strokes are segmented on the median image, where the
    # mark stands on a blurred mix of the images.
    boxes = _edge_boxes(edges)
    overlay = np.zeros_like(found)
    if boxes and len(stack) >= _UNBLEND_IMAGES:  # the "median" of two is their mean
        median = np.ascontiguousarray(np.median(stack, axis=0).astype(np.uint8))
        overlay = segment_rects(median, boxes)
    del stack
    core = np.asarray(found | overlay | edges, dtype=np.uint8)
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    candidate = np.asarray(cv2.dilate(core, reach), dtype=np.uint8)
    if not candidate.any():
        raise ImageError(
            "images_too_different",
            "No watermark shared by these images was found; they may carry it at different "
            "places, or not at all.",
        )
    return candidate, core


def _detection_vote(stack: NDArray[np.uint8]) -> Mask:
    """Pixels the single-image detector marks in at least half of (up to
    ``_VOTE_IMAGES``, evenly spread) images."""
    picked = stack[:: max(1, math.ceil(len(stack) / _VOTE_IMAGES))]
    votes = np.zeros(stack.shape[1:3], dtype=np.uint8)
    for image in picked:
        votes += detect_watermark(np.ascontiguousarray(image)) > 0
    needed = math.ceil((len(picked) + 1) / 2)  # a strict majority: both of two
    return np.where(votes >= needed, np.uint8(255), np.uint8(0))


def _edge_boxes(edges: Mask) -> list[tuple[int, int, int, int]]:
    """Rectangles (x, y, w, h) around the larger groups of consensus edges."""
    grouped = cv2.dilate(edges, np.ones((5, 5), dtype=np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    parts = sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    boxes = []
    for label in parts[:_EDGE_BOXES]:
        x, y, w, h, area = (int(v) for v in stats[label])
        if area >= _EDGE_AREA:
            boxes.append((x - 2, y - 2, w + 4, h + 4))
    return boxes


def _consensus_edges(stack: NDArray[np.uint8]) -> Mask:
    """Edges present in the same place and direction in (most of) the images."""
    gx = np.empty(stack.shape[:3], dtype=np.float32)
    gy = np.empty(stack.shape[:3], dtype=np.float32)
    for index, image in enumerate(stack):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        gx[index] = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
        gy[index] = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    if len(stack) >= 3:
        strength = np.hypot(np.median(gx, axis=0), np.median(gy, axis=0))
    else:
        # With two images the median is the mean; ask for the edge in both, same direction.
        agree = (gx[0] * gx[1] + gy[0] * gy[1]) > 0
        strength = np.where(agree, np.minimum(np.hypot(gx[0], gy[0]), np.hypot(gx[1], gy[1])), 0)
    top = float(np.percentile(strength, 99.9))
    if top <= 1e-3:
        return np.zeros(strength.shape, dtype=np.uint8)
    scaled = np.clip(strength * (255 / top), 0, 255).astype(np.uint8)
    threshold, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu on a mostly-empty map can settle very low: a shared edge must also be strong
    # compared with the images' own edges (chance agreement between unrelated images
    # stays far below them).
    own = float(np.median([np.percentile(np.hypot(x, y), 99) for x, y in zip(gx, gy, strict=True)]))
    floor = _SHARED_EDGE * own * 255 / top
    edges = scaled > max(threshold, 48, floor)
    opened = cv2.morphologyEx(
        edges.astype(np.uint8) * np.uint8(255),
        cv2.MORPH_OPEN,
        cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2)),
    )
    return np.asarray(opened, dtype=np.uint8)


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


def _estimate(
    sources: Sequence[Source], candidate: Mask, core: Mask, progress: Callable[[float], None]
) -> Watermark:
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
    colour, reliable = _colour(stack, region)
    # Two images cannot separate a blend from the content reliably: inpaint instead.
    reliable = reliable and len(stack) >= _UNBLEND_IMAGES
    alpha = np.zeros(region.shape, dtype=np.float32)
    if reliable:
        alpha = _alpha(stack, region, colour)
        mask = _clean(alpha > ALPHA_MIN) & (region > 0)
        if mask.sum() >= 4:
            # Again on the tight mask: the inpainted estimate of the clean images is better.
            tight = cv2.dilate(mask.astype(np.uint8) * np.uint8(255), np.ones((3, 3)))
            alpha = _levels(stack, _alpha(stack, np.asarray(tight, np.uint8), colour), mask, colour)
    # Where no blend explains the mark (too few images, an unusual mark), the consensus
    # area is inpainted instead.
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
    progress(1.0)
    return Watermark(crop, alpha, colour)


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


def _clean(marked: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Drop isolated specks (noise of the alpha estimate)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        marked.astype(np.uint8), connectivity=8
    )
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 4
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
            restored = _unblend(image.astype(np.float32), value * shape, colour)
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


def _unblend(observed: Floats, alpha: Floats, colour: Floats) -> Floats:
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
    restored = np.where(soft[:, :, None], _unblend(observed, alpha, colour), observed)
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
