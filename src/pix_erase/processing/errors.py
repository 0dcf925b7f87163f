"""The one exception type that image processing raises for bad or unusable input.

The worker runs processing inside a ``ProcessPoolExecutor``, so the exception must survive
pickling: ``Exception.__reduce__`` rebuilds it from ``self.args``, which is why the
constructor passes exactly ``(code, message)`` to ``super().__init__``.
"""

from __future__ import annotations

from typing import Literal

ImageErrorCode = Literal[
    "unsupported_format",  # not an image, or a format we do not accept
    "corrupt_image",  # truncated or undecodable
    "too_many_pixels",  # the source (or a frame of it) is larger than the limit
    "too_many_frames",  # more frames than the limit
    "result_too_large",  # the planned result of the steps is larger than the limit
    "heic_unavailable",  # HEIC asked for but pillow-heif (or its encoder) is missing
    # The erase family:
    "mask_size_mismatch",  # the mask image is not the size of the source image
    "empty_mask",  # the mask (PNG, rects or strokes) marks no pixel
    "no_watermark_found",  # remove_watermark found nothing to remove
    "images_too_different",  # batch: no watermark is shared by the images
    "model_not_configured",  # remove_background method=model without a model path
    "model_unavailable",  # the configured model file is missing or not a usable ONNX model
    "background_required",  # JPEG output of a cut-out needs a background colour
]


class ImageError(Exception):
    """An expected failure caused by the image or the requested steps, never by a bug.

    ``code`` is a stable snake_case identifier for clients; ``message`` is a sentence
    for humans.
    """

    def __init__(self, code: ImageErrorCode, message: str) -> None:
        super().__init__(code, message)
        self.code: ImageErrorCode = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
