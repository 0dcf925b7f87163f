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
