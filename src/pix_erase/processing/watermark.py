"""Automatic watermark removal: find text and overlay marks with no mask from the user.

Detection runs rapidocr's text detector (``text_detector``) on a copy of the image whose
longer side is at most ``DETECT_MAX_SIDE``; its line boxes are mapped back to full
resolution. A box covers a whole line, so a classical step then keeps only the strokes:
inside each box (grown along the line, to catch a leading "©"), a morphological top-hat
(bright marks) and black-hat (dark marks) with a structuring element larger than the
strokes measure how much each pixel stands out from its surroundings; Otsu's threshold
splits strokes from background, the polarity that separates better wins (both when both
do, for outlined text), and a 1-pixel dilation covers anti-aliased edges and JPEG halos.
When the strokes have one colour (an opaque mark), the pixels of the box of that colour
join them: letters over a background lighter in one part and darker in another stand out
with opposite polarities.

Without hints a line is kept only when it is credible as an overlay (its box is not a
large part of the picture, its strokes fill a good part of it, and one opacity and colour
over a fill of the photo explain them): text that belongs to the photo mostly fails that
test, and lines all over the picture (coins, a page, fur) are its texture, so a clean photo
is refused with ``no_watermark_found`` rather than retouched. What is kept grows into its
drop shadow, outline or glow (pixels of a band around the strokes that differ from a fill
of the photo as a blend with black or white does, connected to the strokes).

Also without hints, ``overlay_detect`` finds semi-transparent overlays by their own
physics, text or not (rings, boxes, plain shapes), and ``repeats`` completes a tiled mark
from the lattice its found tiles lie on (the tiles the edges cut included). Those are
un-blended (``unblend``) with their fitted opacity and colour instead of inpainted; the
text path's strokes on them are dropped. Opaque marks are inpainted (``best`` up to
``BEST_BUDGET`` pixels).

``hint_rects`` narrow the search to those rectangles (detection runs on each of them, at
a finer scale), and a rectangle where no text is found is segmented as a whole with the
same classical step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import ceil
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .encoding import Encoded
from .erase_support import (
    encode_like_source,
    encode_mask,
    open_and_decode,
    scaled,
    visible_bgr,
)
from .errors import ImageError
from .inpaint import Method, inpaint
from .masks import Mask, Rect
from .overlay_detect import WORK_SIDE, Found, find_overlays
from .overlay_fit import REFINE_SIDE, credibility, grow_overlay
from .phases import phase
from .pixels import Pixels
from .progress import Progress
from .text_detector import Quad, detect_text
from .unblend import unblend

DETECT_MAX_SIDE: Final = 1280
# "best" costs ~50-100 µs per masked pixel, telea ~1: above this many masked pixels the
# automatic removal uses telea so that a big watermark on a big photo stays interactive.
BEST_BUDGET: Final = 60_000

_GROW: Final = 1.0  # box growth along the line, in box heights, on each end
_KERNEL: Final = 0.2  # structuring element, as a fraction of the box height
_BOTH_POLARITIES: Final = 0.95  # the other polarity is kept too above this share of the best
_STRONG: Final = 0.5
_MAX_SHARE: Final = 0.45
_MIN_SIDE: Final = 4.0
_MAX_BOX_SHARE: Final = 0.25  # a detected line box larger than this share of the picture
_MAX_LINE_HEIGHT: Final = 0.3  # a line taller than this share of the picture's short side
_MIN_CREDIBLE: Final = 0.4  # credibility below this: photo detail, not an overlay
_COLOUR_TOLERANCE: Final = 24.0  # a pixel within this of an opaque mark's colour (0-255)
_COLOUR_SPREAD: Final = 20.0  # an opaque mark's strokes vary less than this around it
_COLOUR_GAIN: Final = 3.0  # the colour adds at most this many times the strokes found
_COLOUR_PART: Final = 6  # pixels of the least part it adds
_MIN_DENSITY: Final = 0.06  # strokes cover at least this share of their line's box
_MAX_TEXT_SHARE: Final = 0.35  # detected lines covering more of the picture: no text mark


@dataclass(frozen=True)
class Detection:
    """What ``find_watermark`` found: the mask (255 = mark) and how sure it is (0..1).

    ``overlays`` are the semi-transparent parts whose opacity and colour were fitted:
    they are un-blended rather than inpainted (their pixels are in ``mask`` too, with
    ``rim`` pixels around them for the anti-aliased edge)."""

    mask: Mask
    confidence: float
    overlays: tuple[Found, ...] = ()
    rim: int = 2


@dataclass(frozen=True)
class WatermarkRemoval:
    """The outcome of ``remove_watermark_detailed``.

    ``confidence`` (0..1) is the marked-pixel-weighted credibility of the parts removed:
    how well a single overlay (one opacity and colour over the fill of the photo) explains
    their pixels. ``marked_fraction`` is the share of the image's pixels in the mask.
    """

    result: Encoded
    mask: Encoded
    confidence: float
    marked_fraction: float


def detect_watermark(pixels: Pixels, *, hint_rects: Sequence[Rect] | None = None) -> Mask:
    """A mask (255 = watermark) of the text and overlay marks found in ``pixels``."""
    return find_watermark(pixels, hint_rects=hint_rects).mask


def find_watermark(pixels: Pixels, *, hint_rects: Sequence[Rect] | None = None) -> Detection:
    """The marks found in ``pixels`` and the confidence in them.

    Without hints, a detected line is kept only when it is credible as an overlay: its
    box is not a large part of the picture and one opacity and colour over a fill of the
    photo explain its strokes (``overlay_fit.credibility``). What is kept grows into the
    shadow, outline or glow around it (``overlay_fit.grow_overlay``). Semi-transparent
    overlays (``overlay_detect.find_overlays``) come with their opacity and colour, and
    their ``rim`` pixels around them are in the mask.
    """
    bgr = visible_bgr(pixels)
    height, width = bgr.shape[:2]
    mask = np.zeros((height, width), dtype=np.uint8)
    weighted, total = 0.0, 0
    for x0, y0, x1, y1 in _regions(width, height, hint_rects):
        area = bgr[y0:y1, x0:x1]
        scale = min(1.0, DETECT_MAX_SIDE / max(x1 - x0, y1 - y0))
        small = area if scale >= 1.0 else scaled(area, scale)
        origin = np.array((x0, y0), dtype=np.float32)
        quads = [quad / np.float32(scale) + origin for quad in detect_text(small)]
        if not hint_rects and _text_share(quads, width, height) > _MAX_TEXT_SHARE:
            # "Text" all over the picture is its texture (coins, a page, fur), not a line
            # of overlay text; a tiled mark is the overlay detector's to find.
            quads = []
        found = False
        for quad in quads:
            part = _strokes_in(bgr, quad, _GROW, (x0, y0, x1, y1))
            if part is None:
                continue
            box, strokes, grown_short = part
            short = min(cv2.minAreaRect(quad)[1])
            bx0, by0, bx1, by1 = box
            # A "line" as tall as a good part of the picture, or covering much of it, is
            # the photo's own structure (eyes, fur, coins), not a mark's text.
            large = cv2.contourArea(
                quad
            ) > _MAX_BOX_SHARE * width * height or short > _MAX_LINE_HEIGHT * min(width, height)
            score = credibility(bgr, box, strokes)
            # Letters fill a good part of their line's box; a few scattered pixels that
            # stand out are the photo's detail.
            sparse = cv2.countNonZero(strokes) < _MIN_DENSITY * strokes.size
            if not hint_rects and (large or sparse or score < _MIN_CREDIBLE):
                continue
            strokes = grow_overlay(bgr, box, strokes, grown_short)
            target = mask[by0:by1, bx0:bx1]
            np.bitwise_or(target, strokes, out=target)
            count = int(cv2.countNonZero(strokes))
            weighted += max(0.0, score) * count
            total += count
            found = True
        if hint_rects and not found:
            count, score = _segment_whole(bgr, (x0, y0, x1, y1), mask, scored=True)
            weighted += max(0.0, score) * count
            total += count
    overlays: tuple[Found, ...] = ()
    rim = 2
    if not hint_rects:
        overlays = tuple(find_overlays(bgr))
        rim = 1 + ceil(max(height, width) / WORK_SIDE)
        element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim + 1,) * 2)
        covered = np.zeros_like(mask)
        for found_overlay in overlays:
            shape = np.where(found_overlay.mask, np.uint8(255), np.uint8(0))
            shape = np.asarray(cv2.dilate(shape, element), dtype=np.uint8)
            np.bitwise_or(covered, shape, out=covered)
            count = int(cv2.countNonZero(shape))
            weighted += found_overlay.score * count
            total += count
        if overlays:
            # Strokes the text path found on an overlay are that overlay (un-blended
            # below), or the photo next to it: only text elsewhere is kept.
            mask = _apart(mask, covered)
            np.bitwise_or(mask, covered, out=mask)
    confidence = min(1.0, weighted / total) if total else 0.0
    return Detection(mask, confidence, overlays, rim)


def segment_rects(pixels: Pixels, rects: Sequence[Rect]) -> Mask:
    """The classical stroke segmentation alone, over each whole rectangle (no detector):
    what stands out from its surroundings inside each of ``rects``."""
    bgr = visible_bgr(pixels)
    height, width = bgr.shape[:2]
    mask = np.zeros((height, width), dtype=np.uint8)
    for region in _regions(width, height, rects):
        _segment_whole(bgr, region, mask, scored=False)
    return mask


def _segment_whole(
    bgr: Pixels, region: tuple[int, int, int, int], mask: Mask, *, scored: bool
) -> tuple[int, float]:
    """OR into ``mask`` what stands out inside the whole ``region`` (x0, y0, x1, y1);
    returns (how many pixels, their credibility as an overlay when ``scored``, else 0)."""
    x0, y0, x1, y1 = region
    corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float32)
    part = _strokes_in(bgr, corners, 0.0, region)
    if part is None:
        return 0, 0.0
    box, strokes, _ = part
    bx0, by0, bx1, by1 = box
    target = mask[by0:by1, bx0:bx1]
    np.bitwise_or(target, strokes, out=target)
    score = credibility(bgr, box, strokes) if scored else 0.0
    return int(cv2.countNonZero(strokes)), score


def remove_watermark(
    data: bytes,
    *,
    hint_rects: Sequence[Rect] | None = None,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> tuple[Encoded, Encoded]:
    """Find the watermark, remove it, and return (result, mask PNG "L" 0/255).

    ``remove_watermark_detailed`` gives the same and the confidence.

    Raises ImageError no_watermark_found, and the decoding errors.
    """
    outcome = remove_watermark_detailed(
        data, hint_rects=hint_rects, max_pixels=max_pixels, progress=progress
    )
    return outcome.result, outcome.mask


def remove_watermark_detailed(
    data: bytes,
    *,
    hint_rects: Sequence[Rect] | None = None,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> WatermarkRemoval:
    """Find the watermark and remove it: the result (encoded like the source, as
    ``erase``), the mask, and the confidence. Only masked pixels change. Semi-transparent
    overlays are un-blended; the rest is inpainted, ``best`` for masks up to
    ``BEST_BUDGET`` pixels and ``telea`` above.

    Raises ImageError no_watermark_found (nothing credible found: no pixel is changed),
    and the decoding errors.
    """
    report = Progress(progress)
    source, pixels = open_and_decode(data, max_pixels)
    report(0.1)
    with phase("detect"):
        detection = find_watermark(pixels, hint_rects=hint_rects)
    mask = detection.mask
    marked = int(cv2.countNonZero(mask))
    if marked == 0:
        raise ImageError(
            "no_watermark_found",
            "No text or watermark was found in the image. Mark it yourself and use erase.",
        )
    report(0.4)
    holes = mask
    if detection.overlays:
        holes = mask.copy()
        with phase("unblend"):
            for found_overlay in detection.overlays:
                pixels, changed = unblend(
                    pixels,
                    found_overlay.mask,
                    found_overlay.alpha,
                    found_overlay.colour,
                    detection.rim,
                )
                holes[changed > 0] = 0
    report(0.5)
    remaining = int(cv2.countNonZero(holes))
    if remaining:
        method: Method = "best" if remaining <= BEST_BUDGET else "telea"
        with phase("inpaint"):
            pixels = inpaint(pixels, holes, method, progress=report.span(0.5, 0.9), in_place=True)
    result = encode_like_source(source, pixels)
    mask_png = encode_mask(mask)
    report.finish()
    return WatermarkRemoval(
        result, mask_png, round(detection.confidence, 3), marked / float(mask.size)
    )


def _apart(mask: Mask, covered: Mask) -> Mask:
    """The connected parts of ``mask`` that do not touch ``covered``."""
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count <= 1:
        return mask
    touching = np.zeros(count, dtype=bool)
    touching[np.unique(labels[covered > 0])] = True
    touching[0] = True
    return np.where(touching[labels], np.uint8(0), mask)


def _text_share(quads: Sequence[Quad], width: int, height: int) -> float:
    """The share of the picture that the detected lines' boxes cover (their union)."""
    if not quads:
        return 0.0
    scale = min(1.0, 512 / max(width, height))
    small = np.zeros((max(1, round(height * scale)), max(1, round(width * scale))), np.uint8)
    for quad in quads:
        cv2.fillPoly(small, [np.round(quad * scale).astype(np.int32)], 255)
    return cv2.countNonZero(small) / float(small.size)


def _regions(
    width: int, height: int, hint_rects: Sequence[Rect] | None
) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) areas to search: the hint rectangles (clipped) or the image."""
    if not hint_rects:
        return [(0, 0, width, height)]
    regions = []
    for x, y, w, h in hint_rects:
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + w), min(height, y + h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            regions.append((x0, y0, x1, y1))
    return regions


def _strokes_in(
    bgr: Pixels, quad: Quad, grow: float, limit: tuple[int, int, int, int]
) -> tuple[tuple[int, int, int, int], Mask, float] | None:
    """The strokes inside ``quad`` (grown along its long side) with a 1-pixel margin:
    (their box x0, y0, x1, y1; the strokes there (255); the box's short side)."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(quad.astype(np.float32))
    short = min(w, h)
    if short < _MIN_SIDE:
        return None
    if w >= h:
        w += 2 * grow * h
    else:
        h += 2 * grow * w
    corners = cv2.boxPoints(((cx, cy), (w, h), angle))
    lx0, ly0, lx1, ly1 = limit
    x, y, bw, bh = cv2.boundingRect(np.round(corners).astype(np.int32))
    x0, y0 = max(lx0, x), max(ly0, y)
    x1, y1 = min(lx1, x + bw), min(ly1, y + bh)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = bgr[y0:y1, x0:x1]
    scale = min(1.0, REFINE_SIDE / short)
    if scale < 1.0:
        crop = scaled(crop, scale)
    region = np.zeros(crop.shape[:2], dtype=np.uint8)
    local = (np.asarray(corners, dtype=np.float32) - np.array((x0, y0), dtype=np.float32)) * scale
    cv2.fillPoly(region, [np.round(local).astype(np.int32)], 255)
    strokes = _strokes(crop, region > 0, short * scale)
    strokes = _same_colour(crop, region > 0, strokes)
    if scale < 1.0:
        up = cv2.resize(strokes, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        strokes = np.where(np.asarray(up) >= 128, np.uint8(255), np.uint8(0))
    if not strokes.any():
        return None
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    grown = np.asarray(cv2.dilate(strokes, element), dtype=np.uint8)
    return (x0, y0, x1, y1), grown, float(short)


def _strokes(crop: Pixels, region: NDArray[np.bool_], short: float) -> Mask:
    """The pixels of ``region`` that stand out from their surroundings (255)."""
    size = max(3, int(short * _KERNEL)) | 1
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    candidates: list[tuple[float, NDArray[np.bool_]]] = []
    for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        response = cv2.morphologyEx(crop, operation, element)
        contrast = np.asarray(response.max(axis=2) if response.ndim == 3 else response)
        score, marked = _split(contrast, region)
        # Strokes cover less of their box than the background does; a "mark" covering
        # most of the box is the background between large letters, the wrong polarity.
        if marked.sum() > _MAX_SHARE * region.sum():
            score *= 0.25
        # A mark has one colour: background detail picked up instead varies more.
        if marked.sum() >= 8:
            spread = float(crop[marked].reshape(int(marked.sum()), -1).std(axis=0).mean())
            score /= 1.0 + spread / max(1.0, float(contrast[marked].mean()))
        candidates.append((score, marked))
    candidates.sort(key=lambda item: -item[0])
    (best, chosen), (other, second) = candidates
    if best <= 0:
        return np.zeros(region.shape, dtype=np.uint8)
    if other >= _BOTH_POLARITIES * best:
        chosen = chosen | second
    return np.where(chosen, np.uint8(255), np.uint8(0))


def _same_colour(crop: Pixels, region: NDArray[np.bool_], strokes: Mask) -> Mask:
    """``strokes`` and the pixels of ``region`` of the strokes' own colour, when that
    colour is uniform (an opaque mark): letters over a background lighter in one part of
    the line and darker in another stand out with opposite polarities, and only one is
    kept by ``_strokes``; their colour finds them all."""
    marked = strokes > 0
    core = np.asarray(cv2.erode(strokes, np.ones((3, 3), np.uint8)), dtype=bool)
    if core.sum() < 20 or crop.ndim != 3:
        return strokes
    pixels = crop.astype(np.float32)
    colour = np.median(pixels[core], axis=0)
    distance = np.abs(pixels - colour).max(axis=2)
    spread = float(np.median(distance[core]))
    tolerance = max(_COLOUR_TOLERANCE, 2.5 * spread)
    if spread > _COLOUR_SPREAD:
        return strokes
    near = region & (distance <= tolerance) & ~marked
    # A background of the mark's own colour would fill the box: then nothing is added.
    if near.sum() > _COLOUR_GAIN * marked.sum():
        return strokes
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        near.astype(np.uint8), connectivity=8
    )
    big = np.zeros(count, dtype=bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= _COLOUR_PART
    added = big[labels]
    return np.where(marked | added, np.uint8(255), np.uint8(0))


def _split(
    contrast: NDArray[np.uint8], region: NDArray[np.bool_]
) -> tuple[float, NDArray[np.bool_]]:
    """Otsu's split of the contrast inside ``region``: (how well it separates, the mask)."""
    values = contrast[region]
    if values.size < 4:
        return 0.0, np.zeros(region.shape, dtype=bool)
    threshold, _ = cv2.threshold(
        np.ascontiguousarray(values.reshape(-1, 1)), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
    )
    high = values > threshold
    count = int(high.sum())
    if count == 0 or count == values.size:
        return 0.0, np.zeros(region.shape, dtype=bool)
    gap = float(values[high].mean()) - float(values[~high].mean())
    share = count / values.size
    # Between-class spread (Otsu's criterion, square-rooted): a gap seen on many pixels.
    score = gap * float(np.sqrt(share * (1 - share)))
    # Hysteresis: keep the parts above Otsu's threshold that reach the strongest
    # contrast (strokes), not background detail that only just passes it.
    strong = max(float(threshold), _STRONG * float(np.percentile(values, 99)))
    weak = ((contrast > threshold) & region).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[np.unique(labels[(contrast > strong) & region])] = True
    keep[0] = False
    return score, np.asarray(keep[labels], dtype=bool)
