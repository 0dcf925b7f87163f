"""Batch watermark removal: learn one watermark from several images and remove it from each.

The images are assumed to carry the same mark at the same place relative to the image
(the same pixels when the sizes are equal; otherwise positions and the mark's size scale
with the image, as when one watermarked original is exported at several sizes). The mark
is estimated at the first image's scale; the returned mask has the first image's size.

Three steps, a module each: ``batch_detect`` finds where the shared mark may be,
``batch_estimate`` estimates its alpha and colour (``batch_matting`` from three images
on) and checks that it is shared, and ``batch_restore`` removes it from each image at
full resolution. The results do not depend on the order of the images.

Memory: the working stacks are N reduced images and N crops of the mark's area (capped at
``batch_estimate.STACK_PIXELS`` in all; the matting works on at most 12 of the crops and
``batch_estimate.MATTE_PIXELS`` of their pixels, as floats a few times over); full-size
images are decoded one at a time (three times each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from .batch_detect import candidate_area
from .batch_estimate import estimate
from .batch_restore import Watermark, opaque_misfit, outline_energy, restore, shared_mask
from .decoding import Source, decode, open_source
from .encoding import Encoded
from .erase_support import encode_like_source, encode_mask
from .errors import ImageError
from .phases import phase
from .progress import Progress
from .watermark import remove_watermark_detailed

# The joint estimate fits a picture when restoring it removes at least this share of the
# edges along the mark's outline.
_MIN_REMOVED: Final = 0.1
# ... and when what it inpaints as opaque shows the mark's colour (0-255 off at most).
_MAX_OPAQUE_MISFIT: Final = 40.0


ItemMethod = Literal["joint", "single", "unchanged"]


@dataclass(frozen=True)
class BatchItem:
    """How one picture of a batch was restored.

    ``method``: "joint" (the mark learned from the whole set, un-blended or inpainted),
    "single" (the joint estimate does not fit this picture, so ``remove_watermark``'s
    single-picture path was used), or "unchanged" (neither found the mark in it; its
    pixels are returned as they were). ``confidence`` (0..1): for "joint", the share of
    the mark's outline edges the restoration removed; for "single", the single-picture
    confidence; 0 for "unchanged".
    """

    method: ItemMethod
    confidence: float


@dataclass(frozen=True)
class BatchRemoval:
    """The outcome of ``remove_shared_watermark_detailed``, items in input order."""

    results: list[Encoded]
    mask: Encoded
    items: list[BatchItem]


def remove_shared_watermark(
    images: Sequence[bytes],
    *,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> tuple[list[Encoded], Encoded]:
    """Remove the watermark the ``images`` share; returns the results in input order and
    the shared mask as a PNG (255 = mark) at the size of the first image.
    ``remove_shared_watermark_detailed`` also says how each picture was restored.

    Raises ImageError images_too_different (fewer than two images, or no mark found in
    any of them), and the decoding errors of any image.
    """
    outcome = remove_shared_watermark_detailed(images, max_pixels=max_pixels, progress=progress)
    return outcome.results, outcome.mask


def _fitted(
    sources: Sequence[Source], mark: Watermark, progress: Callable[[float], None]
) -> dict[int, tuple[Encoded, BatchItem]]:
    """The pictures ``mark`` fits, restored: restoring removes enough of the mark's
    outline edges, and what it inpaints as opaque shows the mark's colour."""
    joint: dict[int, tuple[Encoded, BatchItem]] = {}
    for index, source in enumerate(sources):
        with phase("decode"):
            pixels = decode(source)
        with phase("inpaint"):
            restored = restore(pixels, mark)
        before = outline_energy(pixels, mark)
        after = outline_energy(restored, mark)
        removed = 1.0 - after / before if before > 0 else 0.0
        if removed >= _MIN_REMOVED and opaque_misfit(pixels, mark) <= _MAX_OPAQUE_MISFIT:
            item = BatchItem("joint", round(min(1.0, removed), 3))
            joint[index] = (encode_like_source(source, restored), item)
        progress((index + 1) / len(sources))
    return joint


def remove_shared_watermark_detailed(
    images: Sequence[bytes],
    *,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> BatchRemoval:
    """Learn the shared mark from all ``images`` and remove it from each. A picture the
    joint estimate does not fit (restoring it does not remove the mark's outline edges,
    or a wide part it would inpaint as opaque does not show the mark's colour) goes
    through the single-picture path instead; when no shared mark is found at all, or
    the one found fits no more than half of the pictures, every picture does. The
    joint results wait, encoded, until that is known. A result is never one the check
    saw getting worse: failing both, the picture comes back unchanged.

    Raises ImageError images_too_different (fewer than two images, or no mark found in
    any of them), and the decoding errors of any image.
    """
    if len(images) < 2:
        raise ImageError("images_too_different", "A shared watermark needs at least two images.")
    report = Progress(progress)
    sources = [open_source(data, max_pixels=max_pixels) for data in images]
    marks: list[Watermark] = []
    try:
        with phase("detect"):
            candidate, core = candidate_area(sources, report.span(0.0, 0.3))
            marks = estimate(sources, candidate, core, report.span(0.3, 0.6))
    except ImageError as error:
        if error.code != "images_too_different":
            raise
    mark, joint = None, {}
    for candidate_mark in marks:  # the likeliest first; the first that fits is kept
        joint = _fitted(sources, candidate_mark, report.span(0.6, 0.8))
        # A mark the images share fits most of them: one that fits only a few is a
        # coincidence of their content, and none of them gets it.
        if 2 * len(joint) > len(sources):
            mark = candidate_mark
            break
        joint = {}
    results: list[Encoded] = []
    items: list[BatchItem] = []
    single_masks: dict[int, Encoded] = {}
    for index, source in enumerate(sources):
        if index in joint:
            result, item = joint[index]
            results.append(result)
            items.append(item)
            continue
        try:
            single = remove_watermark_detailed(images[index], max_pixels=max_pixels)
        except ImageError as error:
            if error.code != "no_watermark_found":
                raise
            with phase("decode"):
                pixels = decode(source)
            results.append(encode_like_source(source, pixels))
            items.append(BatchItem("unchanged", 0.0))
        else:
            results.append(single.result)
            single_masks[index] = single.mask
            items.append(BatchItem("single", single.confidence))
        report(0.8 + 0.18 * (index + 1) / len(sources))
    if all(item.method == "unchanged" for item in items):
        raise ImageError(
            "images_too_different",
            "No watermark shared by these images was found; they may carry it at different "
            "places, or not at all.",
        )
    if mark is not None and joint:
        encoded_mask = encode_mask(shared_mask(mark, sources[0].size))
    elif 0 in single_masks:
        encoded_mask = single_masks[0]
    else:
        width, height = sources[0].size
        encoded_mask = encode_mask(np.zeros((height, width), dtype=np.uint8))
    report.finish()
    return BatchRemoval(results, encoded_mask, items)
