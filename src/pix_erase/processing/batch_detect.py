"""Batch watermark detection: where the mark the images share may be.

Every image is reduced to one working size and stacked. For two images, the text
detector and stroke refinement of ``watermark`` run on them and vote; the median of the
images' signed gradients keeps only edges that all images share, and the strokes inside
those edges are segmented on the per-pixel median image, where the mark stands on a blur
of the images' content. The median gradients at those edges, integrated (a Poisson
solve), also fill the inside of wide shapes such as a ring. Together: the candidate area.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .decoding import Source, decode
from .erase_support import visible_bgr
from .errors import ImageError
from .masks import Mask
from .phases import phase
from .watermark import detect_watermark, segment_rects

LOW_SIDE: Final = 768  # working size of the whole-image stack (longer side)
UNBLEND_IMAGES: Final = 3  # fewer images cannot separate a blend from the content
_VOTE_IMAGES: Final = 12
_EDGE_BOXES: Final = 16
_EDGE_AREA: Final = 40
_SHARED_EDGE: Final = 0.25
_INTEGRATED_MIN: Final = 8.0  # grey levels: less is the integration's own drift


def low_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, LOW_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def candidate_area(
    sources: Sequence[Source], progress: Callable[[float], None]
) -> tuple[Mask, Mask]:
    """Where the shared mark may be (generous), and where it surely is (its core), on
    the reduced working size of the first image."""
    low = low_size(sources[0].size)
    stack = np.empty((len(sources), low[1], low[0], 3), dtype=np.uint8)
    for index, source in enumerate(sources):
        with phase("decode"):
            pixels = visible_bgr(decode(source, at_least=low))
        stack[index] = cv2.resize(pixels, low, interpolation=cv2.INTER_AREA)
        progress((index + 1) / (len(sources) + 1))
    # The single-picture detector's vote helps two images (they cannot be un-blended,
    # only inpainted where both show the mark); from three on, the consensus across the
    # images finds the mark, and the matting decides what of the candidate area it is.
    if len(stack) < UNBLEND_IMAGES:
        found = _detection_vote(stack)
    else:
        found = np.zeros(stack.shape[1:3], dtype=np.uint8)
    edges = _consensus_edges(stack)
    # Edges outline a mark; its strokes are segmented on the median image, where the
    # mark stands on a blurred mix of the images; and the consensus gradients, integrated,
    # fill the inside of wide shapes (a ring, a box) whose edges alone are found.
    boxes = _edge_boxes(edges)
    overlay = np.zeros_like(found)
    if boxes and len(stack) >= UNBLEND_IMAGES:  # the "median" of two is their mean
        median = np.ascontiguousarray(np.median(stack, axis=0).astype(np.uint8))
        overlay = segment_rects(median, boxes) | _integrated(stack, edges)
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


def _integrated(stack: NDArray[np.uint8], edges: Mask) -> Mask:
    """The mark as the median image shows it, rebuilt from the images' median gradients
    at the consensus edges (Dekel et al.'s first step): solve the Poisson equation
    lap W = div G (Neumann borders, by FFT of the mirrored field), then keep where W
    stands clearly away from the level of the rest of the picture."""
    gray = np.stack([cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in stack]).astype(np.float32)
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, :, :-1] = np.diff(gray, axis=2)
    gy[:, :-1, :] = np.diff(gray, axis=1)
    near = cv2.dilate(edges, np.ones((3, 3), dtype=np.uint8)) > 0
    mx = np.where(near, np.median(gx, axis=0), 0.0)
    my = np.where(near, np.median(gy, axis=0), 0.0)
    divergence = np.zeros(mx.shape, dtype=np.float64)
    divergence[:, 1:] += mx[:, 1:] - mx[:, :-1]
    divergence[:, 0] += mx[:, 0]
    divergence[1:, :] += my[1:, :] - my[:-1, :]
    divergence[0, :] += my[0, :]
    height, width = mx.shape[0], mx.shape[1]
    mirrored = np.block(
        [[divergence, divergence[:, ::-1]], [divergence[::-1, :], divergence[::-1, ::-1]]]
    )
    ky = np.cos(2 * np.pi * np.arange(2 * height) / (2 * height))[:, None]
    kx = np.cos(2 * np.pi * np.arange(2 * width) / (2 * width))[None, :]
    denominator = 2 * kx + 2 * ky - 4
    denominator[0, 0] = 1.0
    spectrum = np.fft.fft2(mirrored) / denominator
    spectrum[0, 0] = 0.0
    level = np.real(np.fft.ifft2(spectrum))[:height, :width]
    level -= float(np.median(level))
    magnitude = np.abs(level).astype(np.float32)
    top = float(np.percentile(magnitude, 99.5))
    if top <= _INTEGRATED_MIN:
        return np.zeros(edges.shape, dtype=np.uint8)
    scaled = np.clip(magnitude * (255 / top), 0, 255).astype(np.uint8)
    threshold, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    marked = (scaled > threshold) & (magnitude > _INTEGRATED_MIN)
    return np.where(marked, np.uint8(255), np.uint8(0))


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
