"""Pure image processing for PixErase: bytes in, bytes out, no I/O beyond reading a path.

Nothing here knows about HTTP, databases or queues. Functions run inside the worker's
process pool, so everything they take, return or raise pickles.

Module map: ``steps`` (the pipeline steps, one module each), ``errors`` (ImageError),
``formats`` (sniffing and the output-format rule), ``pixels`` (the in-memory pixel
convention), ``decoding`` / ``encoding`` (codecs), ``transforms`` (rotate, grayscale,
resize), ``pipeline`` (run_steps), ``progress``, ``compare`` (compare_images), ``exif``
(EXIF to JSON and for results), ``probe`` (inspect_image, probe_encoded, read_exif); the
erase family: ``masks``, ``inpaint`` (erase), ``exemplar`` (the ``best`` method),
``watermark``, ``overlay_fit``, ``text_detector``, ``overlay_detect``, ``repeats`` and
``unblend`` (remove_watermark),
``batch_watermark`` (remove_shared_watermark, with ``batch_detect``, ``batch_estimate``
and ``batch_restore``), ``background`` and ``background_model`` (remove_background).
"""

from .background import remove_background
from .batch_watermark import (
    BatchItem,
    BatchRemoval,
    remove_shared_watermark,
    remove_shared_watermark_detailed,
)
from .compare import Comparison, compare_images
from .encoding import Encoded
from .errors import ImageError, ImageErrorCode
from .exif import JSONValue
from .inpaint import erase
from .pipeline import run_steps
from .probe import ImageInfo, inspect_image, probe_encoded, read_exif
from .steps import STEP_TYPES, Convert, Grayscale, PixelStep, Resize, Rotate, Step
from .watermark import WatermarkRemoval, remove_watermark, remove_watermark_detailed

__all__ = [
    "STEP_TYPES",
    "BatchItem",
    "BatchRemoval",
    "Comparison",
    "Convert",
    "Encoded",
    "Grayscale",
    "ImageError",
    "ImageErrorCode",
    "ImageInfo",
    "JSONValue",
    "PixelStep",
    "Resize",
    "Rotate",
    "Step",
    "WatermarkRemoval",
    "compare_images",
    "erase",
    "inspect_image",
    "probe_encoded",
    "read_exif",
    "remove_background",
    "remove_shared_watermark",
    "remove_shared_watermark_detailed",
    "remove_watermark",
    "remove_watermark_detailed",
    "run_steps",
]
