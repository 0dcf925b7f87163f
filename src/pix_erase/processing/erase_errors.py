"""Error codes of the erase family (erase, watermarks, backgrounds), raised as ImageError.

``errors.ImageErrorCode`` is the shared Literal of codes; until these codes are added to
it, ``erase_error`` builds the ImageError with a cast. The exception is the same class
(``code``, ``message``, pickles), so the API and the worker need nothing new.
"""

from __future__ import annotations

from typing import Literal, cast

from .errors import ImageError, ImageErrorCode

EraseErrorCode = Literal[
    "mask_size_mismatch",  # the mask image is not the size of the source image
    "empty_mask",  # the mask (PNG, rects or strokes) marks no pixel
    "no_watermark_found",  # remove_watermark found nothing to remove
    "images_too_different",  # batch: no watermark is shared by the images
    "model_not_configured",  # remove_background method=model without a model path
    "model_unavailable",  # the configured model file is missing or not a usable ONNX model
    "background_required",  # JPEG output of a cut-out needs a background colour
]


def erase_error(code: EraseErrorCode, message: str) -> ImageError:
    """An ImageError with one of the erase family's codes."""
    return ImageError(cast(ImageErrorCode, code), message)
