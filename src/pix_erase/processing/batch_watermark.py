"""Batch watermark removal: learn one watermark from several images and remove it from each.

The images are assumed to carry the same mark at the same place relative to the image
(the same pixels when the sizes are equal; otherwise positions and the mark's size scale
with the image, as when one watermarked original is exported at several sizes). The mark
is estimated at the first image's scale; the returned mask has the first image's size.

Three steps, a module each: ``batch_detect`` finds where the shared mark may be,
``batch_estimate`` estimates its alpha and colour and checks that it is shared, and
``batch_restore`` removes it from each image at full resolution.

Memory: the working stacks are N reduced images and N crops of the mark's area (capped at
``batch_estimate.STACK_PIXELS`` in all); full-size images are decoded one at a time
(three times each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .batch_detect import candidate_area
from .batch_estimate import estimate
from .batch_restore import restore, shared_mask
from .decoding import decode, open_source
from .encoding import Encoded
from .erase_support import Progress, encode_like_source, encode_mask
from .errors import ImageError
from .phases import phase


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
        candidate, core = candidate_area(sources, report.span(0.0, 0.3))
        mark = estimate(sources, candidate, core, report.span(0.3, 0.6))
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
