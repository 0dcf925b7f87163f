"""Tiled marks: once some tiles are found, the lattice they repeat on finds the rest.

Stock sites tile one text over the whole picture at a regular lattice. The detectors find
many of the tiles but rarely all (a tile over a busy part of the photo, or cut by the
image's edge, gives them too little to go on). Here the mask found so far is searched for
a lattice: its autocorrelation, normalised by what chance would give, peaks at the lattice
vectors. The mask is then folded onto one cell of that lattice (every pixel goes to the
cell position it repeats at, in sub-pixel arithmetic so that no error builds up across the
picture): a position that is marked in a good share of the tiles where it was seen is
part of the tile. Unfolding that tile over the whole picture marks every tile, including
the ones the edges cut. Nothing is added unless the unfolded tile reproduces most of what
was found (the lattice is real) and most found pixels have a twin in another tile (a
lone mark is no lattice). The fold also averages, per cell position, how much each pixel
shows the overlay's step over its surroundings (``evidence``): over many tiles the photo
averages out and the tile's strokes stand out, which finds the strokes no single tile
showed clearly.

No library folds a mask onto a lattice; the autocorrelation is OpenCV's DFT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

Bools = NDArray[np.bool_]
Floats = NDArray[np.float32]

_MIN_SHIFT: Final = 24  # pixels: shorter shifts only see a stroke next to itself
_MIN_PEAK: Final = 0.25  # conditional chance that a shift of a marked pixel is marked
_ANGLE: Final = 0.35  # radians: the two lattice vectors are at least this far apart
_SHARE: Final = 0.2  # a cell position is part of the tile when marked this often
_AGREE: Final = 0.8  # the unfolded tile must cover this share of what was found
_MAX_COVER: Final = 0.5  # and cover at most this share of the picture
_MAX_KERNEL: Final = 15  # pixels: the background estimate's window, at most
_REPEATS: Final = 0.5  # share of the found pixels also found in another tile


@dataclass(frozen=True)
class Lattice:
    first: tuple[float, float]  # (dx, dy)
    second: tuple[float, float]


def find_lattice(mask: Bools) -> Lattice | None:
    """The lattice ``mask`` repeats on, or None."""
    height, width = mask.shape
    count = int(mask.sum())
    if count < 200:
        return None
    size = (cv2.getOptimalDFTSize(2 * height), cv2.getOptimalDFTSize(2 * width))
    marked = np.zeros(size, dtype=np.float32)
    marked[:height, :width] = mask
    window = np.zeros(size, dtype=np.float32)
    window[:height, :width] = 1.0
    marked_spectrum = cv2.dft(marked, flags=cv2.DFT_COMPLEX_OUTPUT)
    window_spectrum = cv2.dft(window, flags=cv2.DFT_COMPLEX_OUTPUT)

    def correlate(first: cv2.typing.MatLike, second: cv2.typing.MatLike) -> Floats:
        product = cv2.mulSpectrums(first, second, 0, conjB=True)
        flags = cv2.DFT_INVERSE | cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT
        return np.asarray(np.fft.fftshift(cv2.dft(product, flags=flags)), dtype=np.float32)

    correlation = correlate(marked_spectrum, marked_spectrum)
    overlap = correlate(window_spectrum, window_spectrum)
    # P(p + t marked | p marked and p + t inside the picture), made symmetric in t
    reachable = np.maximum(correlate(window_spectrum, marked_spectrum), 1.0)
    # reachable at -t: after fftshift, index i is the shift i - n // 2
    mirrored = np.roll(reachable[::-1, ::-1], (1 - size[0] % 2, 1 - size[1] % 2), axis=(0, 1))
    ratio = correlation / np.sqrt(reachable * mirrored)
    cy, cx = size[0] // 2, size[1] // 2
    local_max = ratio >= cv2.dilate(ratio, np.ones((9, 9), np.uint8))
    candidates = local_max & (ratio >= _MIN_PEAK) & (overlap >= 0.15 * height * width)
    candidates[:cy] = False  # each shift comes with its mirror image: keep one of each
    candidates[cy, : cx + 1] = False
    peaks = np.argwhere(candidates)
    peaks = peaks[np.hypot(peaks[:, 0] - cy, peaks[:, 1] - cx) >= _MIN_SHIFT]
    if len(peaks) < 2:
        return None
    strengths = ratio[peaks[:, 0], peaks[:, 1]]
    strong = peaks[strengths >= 0.6 * float(strengths.max())]
    vectors = []
    for py, px in strong:
        dy, dx = _subpixel(ratio, int(py), int(px))
        vectors.append((dx - cx, dy - cy))
    # The shortest strong shift, then the shortest one not along it: a reduced basis.
    vectors.sort(key=lambda v: np.hypot(v[0], v[1]))
    first = vectors[0]
    for second in vectors[1:]:
        angle = abs(np.arctan2(second[1], second[0]) - np.arctan2(first[1], first[0])) % np.pi
        if min(angle, np.pi - angle) >= _ANGLE:
            return Lattice((float(first[0]), float(first[1])), (float(second[0]), float(second[1])))
    return None


def _subpixel(values: NDArray[np.floating], y: int, x: int) -> tuple[float, float]:
    """The peak at (y, x) refined by a parabola through its neighbours on each axis."""

    def offset(before: float, at: float, after: float) -> float:
        curvature = before - 2 * at + after
        return (
            0.0 if curvature >= 0 else float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))
        )

    height, width = values.shape
    if 0 < y < height - 1 and 0 < x < width - 1:
        return (
            y + offset(values[y - 1, x], values[y, x], values[y + 1, x]),
            x + offset(values[y, x - 1], values[y, x], values[y, x + 1]),
        )
    return float(y), float(x)


def evidence(bgr: NDArray[np.uint8], alpha: float, colour: Floats, width: float) -> Floats:
    """Per pixel, how much of the overlay's step it shows: the projection of (J - B) on
    a (C - B), B the photo around thin strokes (an opening where the overlay lightens,
    a closing where it darkens); 1 for a marked pixel, 0 for the photo."""
    size = min(_MAX_KERNEL, max(3, round(2 * width + 1))) | 1
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    opened = cv2.morphologyEx(bgr, cv2.MORPH_OPEN, element).astype(np.float32)
    closed = cv2.morphologyEx(bgr, cv2.MORPH_CLOSE, element).astype(np.float32)
    image = bgr.astype(np.float32)
    lighten = (colour.mean() > image.mean(axis=2))[:, :, None]
    background = np.where(lighten, opened, closed)
    step = alpha * (colour.reshape(1, 1, 3) - background)
    norm = (step * step).sum(axis=2)
    share = ((image - background) * step).sum(axis=2) / np.maximum(norm, 1.0)
    share = np.where(norm >= 100.0, share, np.nan)  # the overlay would not show
    return share.astype(np.float32)


def unfold(
    mask: Bools,
    lattice: Lattice,
    shown: Callable[[], Floats] | None = None,
) -> Bools | None:
    """``mask`` folded onto one cell of ``lattice`` and unfolded over the whole picture:
    the tile at every lattice position (None when the lattice does not hold)."""
    height, width = mask.shape
    basis = np.array(
        [[lattice.first[0], lattice.second[0]], [lattice.first[1], lattice.second[1]]],
        dtype=np.float64,
    )
    if abs(np.linalg.det(basis)) < 100:
        return None
    inverse = np.linalg.inv(basis)
    yy, xx = np.mgrid[0:height, 0:width]
    points = np.stack([xx.ravel(), yy.ravel()]).astype(np.float64)
    coefficients = inverse @ points
    fraction = coefficients - np.floor(coefficients)
    cell = basis @ fraction  # the position inside the canonical cell
    left, top = float(cell[0].min()), float(cell[1].min())
    cx = np.round(cell[0] - left).astype(np.intp)
    cy = np.round(cell[1] - top).astype(np.intp)
    cell_width, cell_height = int(cx.max()) + 1, int(cy.max()) + 1
    bins = cell_width * cell_height
    index = cy * cell_width + cx
    seen = np.bincount(index, minlength=bins).astype(np.float32)
    marked = np.bincount(index, weights=mask.ravel().astype(np.float32), minlength=bins)
    share = marked / np.maximum(seen, 1.0)
    tile = share >= _SHARE
    # What was found must repeat: most found pixels have a twin in another tile.
    twins = marked[index[mask.ravel()]] >= 2
    if not twins.size or float(twins.mean()) < _REPEATS:
        return None
    if shown is not None:
        values = shown().ravel()
        known = ~np.isnan(values)
        clipped = np.clip(np.where(known, values, 0.0), -0.5, 1.5)
        counted = np.bincount(index[known], minlength=bins).astype(np.float32)
        total = np.bincount(index[known], weights=clipped[known], minlength=bins)
        mean = total / np.maximum(counted, 1.0)
        strong = (counted >= 2) & (mean >= 0.5)
        tile = (tile & (mean >= 0.2)) | strong
    unfolded = tile[index].reshape(height, width)
    found = int(mask.sum())
    agree = float((unfolded & mask).sum()) / max(1, found)
    cover = float(unfolded.mean())
    if agree < _AGREE or cover > _MAX_COVER:
        return None
    return np.asarray(unfolded, dtype=bool)
