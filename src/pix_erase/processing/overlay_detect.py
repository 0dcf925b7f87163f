"""Semi-transparent overlays found by their own physics, with no text detector.

A watermark drawn at opacity a in colour C turns the photo I into J = a C + (1 - a) I
inside its shape. Across the shape's boundary the photo is continuous, so a pixel just
inside and one just outside obey J_in = J_out + a (C - J_out): one (a, C) for the whole
boundary, however much the photo under it varies. Photo edges follow no such law.

1. **Edge pairs.** Sharp edges (Canny, then the step must be complete within a couple
   of pixels, as an overlay's boundary is) give pairs (bright side, dark side).
2. **Votes.** For each opacity a of a grid, each pair names the colour C = J_out +
   (J_in - J_out) / a it would need (either side may be the inside). A real overlay makes
   one sharp peak in (a, C); photo edges spread, and a peak that is as high at other
   opacities (a uniform edge fits every a) is discounted.
3. **Regions.** For the strongest peaks, the pairs that fit become seeds (inside and
   outside), chained edge pixels only; a watershed from them draws the shape, bounded by
   the convex hull of nearby inside seeds so that a gap in the boundary cannot flood the
   photo.
4. **Checks.** Parts close together (one logo, one word) are judged together, and kept
   only when their boundary is explained: where the overlay should show (a |C - J_out|
   large enough), most of it fits the law and un-blending makes its step vanish. Then
   (a, C) is refitted on the kept boundary by least squares, and the hypothesis stands
   only when the fit agrees with the vote, its slope is well determined (small standard
   error) and the photo around the boundary varies enough to pin the opacity down: a
   uniform edge fits any opacity, and a photo's own objects rarely fit one.
5. **Repetition.** A kept mask of many parts is handed to ``repeats``, which completes a
   tiled mark over the whole picture.

No library finds overlays this way; OpenCV provides the pieces (Canny, watershed,
connected components) and the rest is the blend law above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .erase_support import scaled
from .pixels import Pixels
from .repeats import evidence, find_lattice, unfold

Floats = NDArray[np.float32]
Bools = NDArray[np.bool_]

WORK_SIDE: Final = 1024  # the detection runs on a copy whose longer side is at most this
_SAMPLE: Final = 1.5  # pixels from the edge to each side of a pair
_SHARP: Final = 0.35  # the step further out may add at most this share of the step
_MIN_STEP: Final = 10.0  # the least step (0-255, any channel) of a pair
_ALPHAS: Final = np.round(np.arange(0.15, 0.801, 0.025), 3)
_MAX_ALPHA: Final = 0.6  # peaks above this opacity are not semi-transparent
_BIN: Final = 16  # colour bins of the vote
_PEAKS: Final = 4  # hypotheses tried
_TOLERANCE: Final = 10.0  # a pair fits when its residual is at most this (0-255)
_CHAIN: Final = 12  # fitting edge pixels count only in chains this long (pixels)
_GROUP: Final = 41  # inside seeds closer than this (pixels at WORK_SIDE) form one shape
_COVER: Final = 0.6  # least share of the visible boundary that fits
_SEAM: Final = 0.45  # un-blended boundary step / observed step, at most
_VISIBLE: Final = 8.0  # a boundary pixel shows the overlay when a |C - J_out| is this
_NEAR: Final = 4.0  # a pixel un-blending would change by at most this is "near C"
_MIN_AREA: Final = 20  # pixels (at WORK_SIDE) of the least group
_MIN_TILES: Final = 8  # parts needed before a lattice is looked for
_MIN_FITTING: Final = 100  # fitting boundary pixels of a whole hypothesis, at least
_MIN_ALPHA: Final = 0.12  # the refitted opacity must lie in this range
_MAX_FIT_ALPHA: Final = 0.55
_AGREE: Final = 0.06  # and agree with the vote's within this
_SLOPE_ERROR: Final = 0.012  # the standard error of the fitted slope, at most
_SPREAD: Final = 8.0  # the photo along the boundary varies at least this much (0-255)


@dataclass(frozen=True)
class Found:
    """One overlay: where (mask at the image's size), its opacity and colour (BGR)."""

    mask: Bools
    alpha: float
    colour: Floats
    score: float


@dataclass(frozen=True)
class _Pairs:
    ys: NDArray[np.intp]
    xs: NDArray[np.intp]
    bright: Floats  # (N, 3) colour on the brighter side
    dark: Floats
    bright_at: tuple[NDArray[np.intp], NDArray[np.intp]]  # (x, y)
    dark_at: tuple[NDArray[np.intp], NDArray[np.intp]]


def find_overlays(bgr: Pixels) -> list[Found]:
    """The semi-transparent overlays credibly found in ``bgr`` (BGR uint8)."""
    height, width = bgr.shape[:2]
    scale = min(1.0, WORK_SIDE / max(height, width))
    small = np.ascontiguousarray(scaled(bgr, scale))
    pairs = _edge_pairs(small)
    if pairs.ys.size == 0:
        return []
    found: list[Found] = []
    taken = np.zeros(small.shape[:2], dtype=bool)
    image = small.astype(np.float32)
    for orient, alpha, colour in _peaks(pairs):
        region = _region(small, pairs, orient, alpha, colour)
        if region is None:
            continue
        kept, alpha2, colour2, score = _checked(image, region, alpha, colour)
        if kept is None or (kept & taken).sum() > 0.5 * kept.sum():
            continue
        kept = _repeated(small, kept, alpha2, colour2)
        taken |= kept
        if scale < 1.0:
            up = cv2.resize(kept.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
            kept = np.asarray(up, dtype=bool)
        found.append(Found(kept, alpha2, colour2, score))
    return found


def _repeated(small: Pixels, kept: Bools, alpha: float, colour: Floats) -> Bools:
    """``kept`` completed by the lattice it repeats on, if it does (``repeats``)."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(kept.astype(np.uint8), connectivity=8)
    if int((stats[1:, cv2.CC_STAT_AREA] >= _MIN_AREA).sum()) < _MIN_TILES:
        return kept  # one shape (and a few letters) cannot show a lattice
    lattice = find_lattice(kept)
    if lattice is None:
        return kept

    def shown() -> Floats:
        distance = cv2.distanceTransform(kept.astype(np.uint8), cv2.DIST_L2, 3)
        width = 2.0 * float(np.percentile(distance[distance > 0], 90))
        return evidence(small, alpha, colour, width)

    unfolded = unfold(kept, lattice, shown)
    return kept if unfolded is None else kept | unfolded


def _edge_pairs(small: Pixels) -> _Pairs:
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    smooth = cv2.GaussianBlur(grey, (0, 0), 0.8)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.Canny(grey, 30, 60, L2gradient=True) > 0
    ys, xs = np.nonzero(edges)
    magnitude = np.hypot(gx[ys, xs], gy[ys, xs]) + 1e-6
    nx, ny = gx[ys, xs] / magnitude, gy[ys, xs] / magnitude
    image = small.astype(np.float32)
    height, width = grey.shape

    def at(t: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        px = np.clip(np.round(xs + t * nx).astype(np.intp), 0, width - 1)
        py = np.clip(np.round(ys + t * ny).astype(np.intp), 0, height - 1)
        return px, py

    bright_at, dark_at = at(_SAMPLE), at(-_SAMPLE)
    bright, dark = image[bright_at[1], bright_at[0]], image[dark_at[1], dark_at[0]]
    far_bright_at, far_dark_at = at(2 * _SAMPLE + 0.5), at(-2 * _SAMPLE - 0.5)
    far_bright = image[far_bright_at[1], far_bright_at[0]]
    far_dark = image[far_dark_at[1], far_dark_at[0]]
    step = np.abs(bright - dark).max(axis=1)
    # An overlay's boundary is a step complete within a couple of pixels on both sides;
    # a soft edge (a shadow, blur) keeps changing.
    keep = (
        (step >= _MIN_STEP)
        & (np.abs(far_bright - bright).max(axis=1) < _SHARP * step)
        & (np.abs(far_dark - dark).max(axis=1) < _SHARP * step)
    )
    return _Pairs(
        ys[keep],
        xs[keep],
        bright[keep],
        dark[keep],
        (bright_at[0][keep], bright_at[1][keep]),
        (dark_at[0][keep], dark_at[1][keep]),
    )


def _sides(pairs: _Pairs, orient: int) -> tuple[Floats, Floats]:
    """(inside, outside) colours: the bright side is inside for orient 0."""
    return (pairs.bright, pairs.dark) if orient == 0 else (pairs.dark, pairs.bright)


def _peaks(pairs: _Pairs) -> list[tuple[int, float, Floats]]:
    """The strongest (orient, a, C) hypotheses, most significant first."""
    bins = 256 // _BIN + 1
    counts = np.zeros((2, len(_ALPHAS), bins, bins, bins), dtype=np.float32)
    for orient in (0, 1):
        inside, outside = _sides(pairs, orient)
        delta = inside - outside
        for index, alpha in enumerate(_ALPHAS):
            colour = outside + delta / alpha
            ok = (colour >= -_BIN / 2).all(axis=1) & (colour < 256 + _BIN / 2).all(axis=1)
            q = np.clip(np.floor((colour[ok] + _BIN / 2) / _BIN).astype(np.intp), 0, bins - 1)
            key = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
            counts[orient, index] = np.bincount(key, minlength=bins**3).reshape(bins, bins, bins)
    candidates: list[tuple[float, int, float, Floats]] = []
    for orient in (0, 1):
        for index, alpha in enumerate(_ALPHAS):
            if alpha > _MAX_ALPHA:
                continue
            lower = int(np.argmin(np.abs(_ALPHAS - alpha * 0.7)))
            upper = int(np.argmin(np.abs(_ALPHAS - alpha / 0.7)))
            reference = np.maximum(counts[orient, lower], counts[orient, upper])
            significance = counts[orient, index] - reference
            flat = int(significance.argmax())
            cell = np.array(np.unravel_index(flat, significance.shape), dtype=np.float32)
            colour = np.clip(cell * _BIN, 0, 255).astype(np.float32)
            candidates.append((float(significance.flat[flat]), orient, float(alpha), colour))
    candidates.sort(key=lambda item: -item[0])
    chosen: list[tuple[int, float, Floats]] = []
    for significance, orient, alpha, colour in candidates:
        if significance <= 0 or len(chosen) >= _PEAKS:
            break
        if any(
            o == orient and abs(a - alpha) < 0.1 and np.abs(c - colour).max() <= 2 * _BIN
            for o, a, c in chosen
        ):
            continue
        chosen.append((orient, alpha, colour))
    return chosen


def _region(
    small: Pixels, pairs: _Pairs, orient: int, alpha: float, colour: Floats
) -> NDArray[np.int32] | None:
    """Watershed labels (2 inside, 1 outside, -1 boundary) grown from the pairs that fit
    (orient, alpha, colour); None when too few fit."""
    inside, outside = _sides(pairs, orient)
    inside_at, outside_at = (
        (pairs.bright_at, pairs.dark_at) if orient == 0 else (pairs.dark_at, pairs.bright_at)
    )
    residual = inside - outside - alpha * (colour - outside)
    fits = np.abs(residual).max(axis=1) <= _TOLERANCE
    height, width = small.shape[:2]
    chain = np.zeros((height, width), dtype=np.uint8)
    chain[pairs.ys[fits], pairs.xs[fits]] = 1
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        cv2.dilate(chain, np.ones((3, 3), np.uint8)), connectivity=8
    )
    long = np.zeros(count, dtype=bool)
    long[1:] = np.maximum(stats[1:, 2], stats[1:, 3]) >= _CHAIN
    fits &= long[labels[pairs.ys, pairs.xs]]
    if fits.sum() < 2 * _CHAIN:
        return None
    markers = np.zeros((height, width), dtype=np.int32)
    markers[outside_at[1][fits], outside_at[0][fits]] = 1
    markers[inside_at[1][fits], inside_at[0][fits]] = 2
    hull = _hulls(markers == 2).astype(np.uint8)
    hull = np.asarray(cv2.dilate(hull, np.ones((7, 7), np.uint8)), dtype=np.uint8)
    markers[hull == 0] = 1
    return np.asarray(cv2.watershed(np.ascontiguousarray(small), markers), dtype=np.int32)


def _checked(
    image: Floats, labels: NDArray[np.int32], alpha: float, colour: Floats
) -> tuple[Bools | None, float, Floats, float]:
    """The parts of the watershed's inside whose boundary the overlay explains, and the
    refitted (a, C) and a score; (None, ...) when no part passes.

    Pixels of the photo close to C barely change under the overlay, so its boundary does
    not show there and the watershed may leave them out, splitting a shape in two: they
    join the inside wherever the inside's hull reaches. Parts close together (one logo,
    one word) are judged together."""
    inside = labels == 2
    ys, xs = np.nonzero(_hulls(inside) & ~inside)
    change = np.abs(image[ys, xs] - colour).max(axis=1) * alpha / (1 - alpha)
    near = change <= _NEAR
    inside[ys[near], xs[near]] = True
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_GROUP // 2 | 1,) * 2)
    count, groups, stats, _ = cv2.connectedComponentsWithStats(
        np.asarray(cv2.dilate(inside.astype(np.uint8), reach)), connectivity=8
    )
    kept = np.zeros(inside.shape, dtype=bool)
    samples_in: list[Floats] = []
    samples_out: list[Floats] = []
    shown = 0
    height, width = inside.shape
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        y0, y1, x0, x1 = max(0, y - 1), min(height, y + h + 1), max(0, x - 1), min(width, x + w + 1)
        group = inside[y0:y1, x0:x1] & (groups[y0:y1, x0:x1] == label)
        area = int(np.count_nonzero(group))
        if area < _MIN_AREA:
            continue
        j_in, j_out = _boundary_samples(image[y0:y1, x0:x1], group)
        verdict = _judge(j_in, j_out, alpha, colour)
        if verdict is None or not verdict[0]:
            continue
        kept[y0:y1, x0:x1] |= group
        samples_in.append(verdict[1])
        shown += verdict[3]
        samples_out.append(verdict[2])
    if not kept.any():
        return None, alpha, colour, 0.0
    j_in, j_out = np.concatenate(samples_in), np.concatenate(samples_out)
    if j_in.shape[0] < _MIN_FITTING:
        return None, alpha, colour, 0.0
    alpha2, colour2, error = _refit(j_in, j_out, alpha, colour)
    spread = float(j_out.mean(axis=1).std())
    credible = (
        _MIN_ALPHA <= alpha2 <= _MAX_FIT_ALPHA
        and abs(alpha2 - alpha) <= _AGREE
        and error <= _SLOPE_ERROR
        and spread >= _SPREAD
    )
    if not credible:
        return None, alpha, colour, 0.0
    # The score: the share of the kept boundary (where it shows) that the overlay explains.
    return kept, alpha2, colour2, min(1.0, j_in.shape[0] / max(1, shown))


def _judge(
    j_in: Floats, j_out: Floats, alpha: float, colour: Floats
) -> tuple[bool, Floats, Floats, int] | None:
    """Whether boundary samples are explained by (alpha, colour): (verdict, the fitting
    inside samples, their outside samples, how many samples show the overlay)."""
    if j_in.shape[0] < 8:
        return None
    visible = alpha * np.abs(colour - j_out).max(axis=1) >= _VISIBLE
    if visible.sum() < 8:
        return None
    j_in, j_out = j_in[visible], j_out[visible]
    residual = j_in - j_out - alpha * (colour - j_out)
    fits = np.abs(residual).max(axis=1) <= _TOLERANCE
    # Un-blended, the inside continues the outside: the boundary's step vanishes.
    unblended = (j_in - alpha * colour) / (1 - alpha)
    seam = float(np.median(np.abs(unblended - j_out).max(axis=1)))
    step = float(np.median(np.abs(j_in - j_out).max(axis=1)))
    ok = float(fits.mean()) >= _COVER and seam <= _SEAM * max(step, 1.0)
    return ok, j_in[fits], j_out[fits], int(visible.sum())


def _hulls(inside: Bools) -> Bools:
    """The convex hulls of the groups of ``inside`` (parts closer than ``_GROUP``)."""
    u8 = inside.astype(np.uint8)
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_GROUP, _GROUP))
    count, groups, stats, _ = cv2.connectedComponentsWithStats(np.asarray(cv2.dilate(u8, reach)))
    hull = np.zeros(inside.shape, dtype=np.uint8)
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        part = (groups[y : y + h, x : x + w] == label).astype(np.uint8) & u8[y : y + h, x : x + w]
        points = cv2.findNonZero(part)
        if points is not None:
            cv2.fillConvexPoly(hull, cv2.convexHull(points + np.array([x, y], np.int32)), 1)
    return hull > 0


def _boundary_samples(image: Floats, part: Bools) -> tuple[Floats, Floats]:
    """Colours just inside and just outside the boundary of ``part``."""
    u8 = part.astype(np.uint8)
    edge = (u8 > 0) & (cv2.erode(u8, np.ones((3, 3), np.uint8)) == 0)
    soft = cv2.GaussianBlur(u8.astype(np.float32), (0, 0), 1.5)
    gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    ys, xs = np.nonzero(edge)
    magnitude = np.hypot(gx[ys, xs], gy[ys, xs])
    ok = magnitude > 1e-3
    ys, xs = ys[ok], xs[ok]
    nx, ny = gx[ys, xs] / magnitude[ok], gy[ys, xs] / magnitude[ok]  # towards the inside
    height, width = part.shape

    def sample(t: float) -> tuple[Floats, Bools]:
        px = np.clip(np.round(xs + t * nx).astype(np.intp), 0, width - 1)
        py = np.clip(np.round(ys + t * ny).astype(np.intp), 0, height - 1)
        return image[py, px], part[py, px]

    j_in, in_ok = sample(1.0)
    j_out, out_ok = sample(-2.0)
    ok = in_ok & ~out_ok
    return j_in[ok], j_out[ok]


def _refit(
    j_in: Floats, j_out: Floats, alpha: float, colour: Floats
) -> tuple[float, Floats, float]:
    """Least squares of J_in = (1 - a) J_out + a C over the fitting pairs: one slope for
    every channel, one intercept per channel; and the slope's standard error."""
    mean_in, mean_out = j_in.mean(axis=0), j_out.mean(axis=0)
    dx, dy = j_out - mean_out, j_in - mean_in
    denominator = float((dx * dx).sum())
    if denominator < 1e-6 or j_in.shape[0] < 16:
        return alpha, colour, 1.0
    slope = float((dx * dy).sum() / denominator)
    residual = dy - slope * dx
    sigma = float(np.sqrt((residual * residual).sum() / max(1, residual.size - 4)))
    error = sigma / float(np.sqrt(denominator))
    new_alpha = 1.0 - slope
    if not 0.0 < new_alpha < 1.0:
        return new_alpha, colour, error
    intercept = mean_in - slope * mean_out
    return new_alpha, np.clip(intercept / new_alpha, 0, 255).astype(np.float32), error
