"""Erase what a mask marks: ``erase`` (bytes in, bytes out) and ``inpaint`` (pixels).

Cost follows the mask, not the image: the mask is split into groups of parts that lie
close together, and each group is inpainted in a crop of the image padded around it. For
``telea`` and ``ns`` the pad is the inpainting radius + 1, which gives the whole-image
result pixel for pixel (the tests and bench/erase_quality.py check it); ``best`` keeps
the context its patch search needs. Only marked pixels are written, so every unmarked
pixel of the output equals the input's, inside the crops as well as outside them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from .encoding import Encoded
from .erase_support import encode_like_source, open_and_decode
from .exemplar import context_for, diffusion_fill, inpaint_best
from .masks import Mask, Rect, Stroke, combine, mask_from_png, mask_from_rects, mask_from_strokes
from .masks import require_marked as require_marked
from .phases import phase
from .pixels import Pixels, size_of
from .progress import Progress

Method = Literal["telea", "ns", "best"]

RADIUS: Final = 3  # cv2.inpaint's neighbourhood, the value OpenCV's own examples use
_CV2_PAD: Final = RADIUS + 1
# Grouping runs on a reduced copy of the mask when its bounding box is larger than this,
# so a 24 MP mask never needs a full-size label image (4 bytes a pixel).
_GROUPING_AREA: Final = 4_000_000


def erase(
    data: bytes,
    *,
    mask_png: bytes | None = None,
    rects: Sequence[Rect] | None = None,
    strokes: Sequence[Stroke] | None = None,
    method: Method = "telea",
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> Encoded:
    """Inpaint the area marked by ``mask_png`` and/or ``rects`` and/or ``strokes`` (their
    union) and encode the result like the source (see ``erase_support.encode_like_source``).

    Raises ImageError: mask_size_mismatch, empty_mask, and the decoding errors of the
    image or of the mask (too_many_pixels, corrupt_image, unsupported_format).
    """
    report = Progress(progress)
    source, pixels = open_and_decode(data, max_pixels)
    report(0.1)
    size = size_of(pixels)
    with phase("mask"):
        parts: list[Mask] = []
        if mask_png is not None:
            parts.append(mask_from_png(mask_png, size))
        if rects:
            parts.append(mask_from_rects(size, rects))
        if strokes:
            parts.append(mask_from_strokes(size, strokes))
        mask = parts[0] if len(parts) == 1 else combine(size, parts)
        require_marked(mask)
    with phase("inpaint"):
        pixels = inpaint(pixels, mask, method, progress=report.span(0.15, 0.9), in_place=True)
    encoded = encode_like_source(source, pixels)
    report.finish()
    return encoded


def inpaint(
    pixels: Pixels,
    mask: Mask,
    method: Method,
    *,
    progress: Callable[[float], None] | None = None,
    in_place: bool = False,
) -> Pixels:
    """``pixels`` with the non-zero pixels of ``mask`` inpainted; other pixels unchanged.

    ``in_place`` writes into ``pixels`` instead of a copy (saves a full-size copy when
    the caller owns the array).
    """
    out = pixels if in_place else pixels.copy()
    pad = _CV2_PAD if method != "best" else _best_pad()
    groups = list(mask_groups(mask, pad))
    total = sum(group.weight for group in groups) or 1
    done = 0
    for group in groups:
        crop = group.crop
        hole = group.hole(mask)
        if method == "best":
            context = context_for(hole > 0)
            if context > pad:  # a thick hole is solved on coarser levels: widen the crop
                group = group.widened(context - pad, size_of(mask))
                crop, hole = group.crop, group.hole(mask)
        region = np.ascontiguousarray(pixels[crop])
        filled = _fill(region, hole, method)
        marked = hole > 0
        out[crop][marked] = filled[marked]
        done += group.weight
        if progress is not None:
            progress(done / total)
    return out


def _best_pad() -> int:
    return context_for(np.zeros((1, 1), dtype=bool))


def _fill(region: Pixels, hole: Mask, method: Method) -> Pixels:
    if method == "best":
        return inpaint_best(region, hole)
    if method == "telea":
        return diffusion_fill(region, hole, RADIUS)
    flag = cv2.INPAINT_NS
    if region.ndim == 2 or region.shape[2] == 3:
        return np.asarray(cv2.inpaint(region, hole, RADIUS, flag), dtype=np.uint8)
    groups = [[0], [1]] if region.shape[2] == 2 else [[0, 1, 2], [3]]
    planes = [
        cv2.inpaint(np.ascontiguousarray(region[:, :, g]), hole, RADIUS, flag) for g in groups
    ]
    return np.ascontiguousarray(np.dstack(planes))


@dataclass(frozen=True)
class Group:
    """Mask parts that are inpainted together, and the padded crop around them.

    ``labels`` is the connected-component image of the dilated (and, for big masks,
    reduced by ``factor``) mask; this group's pixels are the mask pixels labelled
    ``label``. ``top``/``left`` place ``labels`` in the image.
    """

    y0: int
    y1: int
    x0: int
    x1: int
    label: int
    labels: NDArray[np.int32]
    factor: int
    top: int
    left: int
    weight: int  # marked pixels (in reduced units), for progress

    @property
    def crop(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def hole(self, mask: Mask) -> Mask:
        """This group's marked pixels within the crop (255), others 0."""
        f = self.factor
        ly0, ly1 = (self.y0 - self.top) // f, (self.y1 - self.top + f - 1) // f
        lx0, lx1 = (self.x0 - self.left) // f, (self.x1 - self.left + f - 1) // f
        ly0, lx0 = max(ly0, 0), max(lx0, 0)
        mine = self.labels[ly0:ly1, lx0:lx1] == self.label
        if f > 1:
            mine = np.repeat(np.repeat(mine, f, axis=0), f, axis=1)
        full = np.zeros((self.y1 - self.y0, self.x1 - self.x0), dtype=bool)
        # Where the label image starts inside the crop (the crop may start before it).
        oy, ox = self.top + ly0 * f - self.y0, self.left + lx0 * f - self.x0
        sy, sx = max(0, -oy), max(0, -ox)
        ty, tx = max(0, oy), max(0, ox)
        height = min(full.shape[0] - ty, mine.shape[0] - sy)
        width = min(full.shape[1] - tx, mine.shape[1] - sx)
        full[ty : ty + height, tx : tx + width] = mine[sy : sy + height, sx : sx + width]
        return np.where(full & (mask[self.crop] > 0), np.uint8(255), np.uint8(0))

    def widened(self, extra: int, size: tuple[int, int]) -> Group:
        width, height = size
        return Group(
            max(0, self.y0 - extra),
            min(height, self.y1 + extra),
            max(0, self.x0 - extra),
            min(width, self.x1 + extra),
            self.label,
            self.labels,
            self.factor,
            self.top,
            self.left,
            self.weight,
        )


def mask_groups(mask: Mask, pad: int) -> Iterator[Group]:
    """Groups of mask parts closer than 2 * ``pad`` to each other, each with its crop:
    the group's bounding box grown by at least ``pad`` on every side (clipped)."""
    height, width = mask.shape
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return
    sub = mask[y : y + h, x : x + w]
    factor = 1 if w * h <= _GROUPING_AREA else math.ceil(math.sqrt(w * h / _GROUPING_AREA))
    if factor > 1:
        rows, cols = -(-h // factor), -(-w // factor)
        padded = np.zeros((rows * factor, cols * factor), dtype=np.uint8)
        padded[:h, :w] = sub
        reduced = padded.reshape(rows, factor, cols, factor).max(axis=(1, 3))
    else:
        reduced = sub
    reach = -(-pad // factor)
    # Room for the dilation, so components are not cut at the edge of the bounding box.
    grown = cv2.copyMakeBorder(reduced, reach, reach, reach, reach, cv2.BORDER_CONSTANT, value=0)
    dilated = cv2.dilate(grown, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * reach + 1,) * 2))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dilated, connectivity=8)
    label_image = np.asarray(labels, dtype=np.int32)
    counts = np.bincount(label_image[grown > 0].ravel(), minlength=count)
    top, left = y - reach * factor, x - reach * factor
    for label in range(1, count):
        sx, sy, sw, sh = (int(v) for v in stats[label, :4])
        yield Group(
            y0=max(0, top + sy * factor),
            y1=min(height, top + (sy + sh) * factor),
            x0=max(0, left + sx * factor),
            x1=min(width, left + (sx + sw) * factor),
            label=label,
            labels=label_image,
            factor=factor,
            top=top,
            left=left,
            weight=int(counts[label]),
        )
